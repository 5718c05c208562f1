"""The whole-frame write paths: one COPY (PostgreSQL), LOAD DATA (MariaDB).

Each is compared with the path it replaces, row by row, on awkward values.
"""

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from django.db import IntegrityError, connections

from tests.testapp.models import Author, Book, FrameValue
from winidjango.src.db._backends.mysql import MySqlWriter
from winidjango.src.db.bulk import bulk_create_from_frame

_TEXTS = [
    "plain",
    "",
    None,
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "\\",
    "NULL",
    "ends with backslash\\",
    '"quoted", comma',
    "unicode: ÄÖÜ ß € 漢字 🎉",
    "\\t not a tab",
]
_BLOBS = [
    b"",
    None,
    b"\x00\x01\x02",
    b"\t\n\r\\",
    bytes(range(256)),
    b"\xff\xfe not utf-8",
    b"\\N",
]
_RATIOS = [0.1, None, 1e300, -0.0, 5e-324, 123456789.123456789, -2.5, 1 / 3]
_AMOUNTS = [Decimal("0.000001"), None, Decimal("-12345678901234.5"), Decimal(0)]
_DAYS = [datetime.date(1, 1, 1), None, datetime.date(2024, 2, 29)]
_MOMENTS = [
    datetime.datetime(2024, 1, 1, 12, 30, tzinfo=datetime.UTC),
    None,
    datetime.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC),
]
_CLOCKS = [datetime.time(0, 0), None, datetime.time(23, 59, 59, 123456)]
_WAITS = [
    datetime.timedelta(0),
    None,
    datetime.timedelta(days=-1, microseconds=5),
    datetime.timedelta(days=3, seconds=7),
]


def _awkward_frame(rows: int = 50) -> pl.DataFrame:
    def cycle(values: list[Any]) -> list[Any]:
        return [values[i % len(values)] for i in range(rows)]

    return pl.DataFrame(
        {
            "text": pl.Series(cycle(_TEXTS), dtype=pl.String),
            "blob": pl.Series(cycle(_BLOBS), dtype=pl.Binary),
            "ratio": pl.Series(cycle(_RATIOS), dtype=pl.Float64),
            "amount": pl.Series(cycle(_AMOUNTS), dtype=pl.Decimal(38, 6)),
            "day": pl.Series(cycle(_DAYS), dtype=pl.Date),
            "moment": pl.Series(cycle(_MOMENTS), dtype=pl.Datetime("us", "UTC")),
            "clock": pl.Series(cycle(_CLOCKS), dtype=pl.Time),
            "wait": pl.Series(cycle(_WAITS), dtype=pl.Duration("us")),
        }
    )


def _stored() -> list[tuple[Any, ...]]:
    rows = FrameValue.objects.order_by("pk").values_list(
        "text", "blob", "ratio", "amount", "day", "moment", "clock", "wait", "count"
    )
    return [(row[0], _bytes(row[1]), *row[2:]) for row in rows]


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _expected(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return [(*row, 7) for row in frame.iter_rows()]


def _statements(alias: str, work: Callable[[], object]) -> list[str]:
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, *args: Any) -> Any:
        seen.append(sql)
        return execute(sql, *args)

    with connections[alias].execute_wrapper(wrapper):
        work()
    return seen


@pytest.mark.django_db
def test_awkward_values_stored_exactly(alias: str) -> None:
    frame = _awkward_frame()
    assert bulk_create_from_frame(FrameValue, frame, step=7) == frame.height
    assert _stored() == _expected(frame)


@pytest.mark.django_db
@pytest.mark.backends("mariadb")
def test_load_data_and_insert_write_identical_rows(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _awkward_frame()
    statements = _statements(
        alias, lambda: bulk_create_from_frame(FrameValue, frame, step=7)
    )
    assert [sql for sql in statements if sql.startswith("LOAD DATA")]
    assert not [sql for sql in statements if sql.startswith("INSERT")]
    loaded = _stored()
    FrameValue.objects.all().delete()

    monkeypatch.setattr(MySqlWriter, "can_load_data_infile", lambda *_: False)
    statements = _statements(
        alias, lambda: bulk_create_from_frame(FrameValue, frame, step=7)
    )
    assert not [sql for sql in statements if sql.startswith("LOAD DATA")]
    inserted = _stored()
    assert loaded == inserted == _expected(frame)


@pytest.mark.django_db
@pytest.mark.backends("mariadb")
def test_load_data_keeps_nul_characters(alias: str) -> None:
    frame = pl.DataFrame({"text": ["a\x00b", "\x00", "\\0"]})
    bulk_create_from_frame(FrameValue, frame)
    assert list(FrameValue.objects.order_by("pk").values_list("text", flat=True)) == [
        "a\x00b",
        "\x00",
        "\\0",
    ]


@pytest.mark.django_db
@pytest.mark.backends("mariadb")
def test_load_data_refuses_a_silently_skipped_row(alias: str) -> None:
    # With LOCAL, MariaDB skips a row whose foreign key points nowhere with a
    # warning instead of an error; the loader must raise and write nothing.
    author = Author.objects.create(name="Ann")
    frame = pl.DataFrame(
        {"title": ["a", "b", "c"], "author_id": [author.pk, author.pk, author.pk + 99]}
    )
    with pytest.raises(IntegrityError):
        bulk_create_from_frame(Book, frame, step=1)
    assert not Book.objects.exists()


@pytest.mark.django_db
@pytest.mark.backends("postgresql")
def test_one_copy_for_the_whole_frame(alias: str) -> None:
    frame = _awkward_frame(100)
    calls: list[int] = []
    statements = _statements(
        alias,
        lambda: bulk_create_from_frame(
            FrameValue, frame, step=10, progress=lambda _, n: calls.append(n)
        ),
    )
    assert len([sql for sql in statements if sql.startswith("COPY")]) == 1
    assert calls == [10] * 10
    assert _stored() == _expected(frame)


@pytest.mark.django_db
@pytest.mark.backends("postgresql")
def test_one_copy_per_chunk_when_not_atomic(alias: str) -> None:
    frame = _awkward_frame(30)
    statements = _statements(
        alias,
        lambda: bulk_create_from_frame(FrameValue, frame, step=10, atomic=False),
    )
    assert len([sql for sql in statements if sql.startswith("COPY")]) == 3
    assert _stored() == _expected(frame)
