"""Values written by the bulk functions read back exactly, on every backend."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import DataError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.testapp.models import Sample
from winidjango.src.db.bulk import bulk_create_in_steps, bulk_update_in_steps

COLUMNS = [
    "name",
    "text",
    "number",
    "big",
    "amount",
    "flag",
    "day",
    "moment",
    "clock",
    "uid",
    "data",
]

# PostgreSQL text cannot hold NUL; lone surrogates are not valid UTF-8.
_TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**31), max_value=2**31)
    | st.text(_TEXT, max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(_TEXT, max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
_SAMPLE = st.fixed_dictionaries(
    {
        "name": st.text(_TEXT, max_size=20),
        "text": st.text(_TEXT, max_size=200),
        "number": st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "big": st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "amount": st.none()
        | st.decimals(
            min_value=Decimal("-99999999.9999"),
            max_value=Decimal("99999999.9999"),
            places=4,
            allow_nan=False,
            allow_infinity=False,
        ),
        "flag": st.none() | st.booleans(),
        "day": st.none()
        | st.dates(datetime.date(1000, 1, 1), datetime.date(9999, 12, 31)),
        "moment": st.none()
        | st.datetimes(
            datetime.datetime(1970, 1, 2),
            datetime.datetime(2100, 1, 1),
            timezones=st.just(datetime.UTC),
        ),
        "clock": st.none() | st.times(),
        # MariaDB's UUID type refuses values outside RFC 4122 variants.
        "uid": st.none() | st.uuids(version=4),
        "data": _JSON,
    }
)


def _stored(sample: Sample) -> dict[str, Any]:
    row = Sample.objects.values(*COLUMNS).get(pk=sample.pk)
    return dict(row)


def _expected(values: dict[str, Any]) -> dict[str, Any]:
    # A JSON null in a nullable JSONField is stored as SQL NULL: both read
    # back as None.
    return dict(values)


_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_SETTINGS
@given(rows=st.lists(_SAMPLE, min_size=1, max_size=4))
def test_created_values_read_back_exactly(
    alias: str, rows: list[dict[str, Any]]
) -> None:
    samples = bulk_create_in_steps(Sample, [Sample(**row) for row in rows], step=3)
    for sample, row in zip(samples, rows, strict=True):
        assert _stored(sample) == _expected(row)


@_SETTINGS
@given(before=_SAMPLE, after=_SAMPLE)
def test_updated_values_read_back_exactly(
    alias: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    sample = Sample.objects.create(**before)
    for column, value in after.items():
        setattr(sample, column, value)
    assert bulk_update_in_steps(Sample, [sample], COLUMNS) == 1
    assert _stored(sample) == _expected(after)


def test_text_longer_than_one_mebibyte_round_trips(alias: str) -> None:
    long_texts = [("x" * (1024 * 1024 + i)) + "é" for i in range(3)]
    samples = bulk_create_in_steps(
        Sample, [Sample(name=f"long {i}", text=t) for i, t in enumerate(long_texts)]
    )
    for sample, text in zip(samples, long_texts, strict=True):
        assert Sample.objects.get(pk=sample.pk).text == text
    for sample in samples:
        sample.text = sample.text[::-1]
    bulk_update_in_steps(Sample, samples, ["text"])
    for sample, text in zip(samples, long_texts, strict=True):
        assert Sample.objects.get(pk=sample.pk).text == text[::-1]


def test_string_at_max_length_round_trips_and_longer_is_never_cut(
    backend: str, alias: str
) -> None:
    at_limit = bulk_create_in_steps(Sample, [Sample(name="é" * 20)])[0]
    assert Sample.objects.get(pk=at_limit.pk).name == "é" * 20
    too_long = Sample(name="y" * 21)
    if backend == "sqlite":
        # SQLite does not enforce VARCHAR lengths (as with Django's save()):
        # the value is kept whole, not cut.
        stored = bulk_create_in_steps(Sample, [too_long])[0]
        assert Sample.objects.get(pk=stored.pk).name == "y" * 21
        return
    with pytest.raises(DataError), transaction.atomic(using=alias):
        bulk_create_in_steps(Sample, [too_long])
    assert not Sample.objects.filter(name__startswith="y").exists()
