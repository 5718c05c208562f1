"""PostgreSQL: keys reserved from the sequence match the rows COPY wrote."""

import pytest
from django.db import connections

from tests.testapp.models import FrameValue
from winidjango.src.db.bulk import bulk_create_in_steps


def _created_match_database(count: int, step: int) -> list[int]:
    objs = [FrameValue(text=f"v{i}", count=i) for i in range(count)]
    created = bulk_create_in_steps(FrameValue, objs, step)
    stored = dict(FrameValue.objects.values_list("pk", "count"))
    assert {obj.pk: obj.count for obj in created} == stored
    assert len(stored) == count
    return [obj.pk for obj in created]


@pytest.mark.django_db
@pytest.mark.backends("postgresql")
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("INCREMENT BY 1", "ascending"),
        ("INCREMENT BY 3", "ascending"),
        ("INCREMENT BY -1 MINVALUE 1 MAXVALUE 100000 RESTART WITH 90000", "descending"),
    ],
)
def test_reserved_keys_in_row_order(alias: str, options: str, expected: str) -> None:
    table = FrameValue._meta.db_table
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"ALTER SEQUENCE {sequence} {options}")
    try:
        keys = _created_match_database(25, 10)
    finally:
        with connections[alias].cursor() as cursor:
            cursor.execute(
                f"ALTER SEQUENCE {sequence} INCREMENT BY 1 MINVALUE 1 "
                "MAXVALUE 9223372036854775807"
            )
    ordered = sorted(keys, reverse=expected == "descending")
    assert keys == ordered
    assert len(set(keys)) == len(keys)
