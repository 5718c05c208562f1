"""Tests of the backend SQL writers on SQLite, PostgreSQL and MariaDB.

Each test runs a writer method against a real table and checks what the
database holds afterwards: rows deleted by ``delete_rows``, values written by
the statements of ``update_statement`` (PostgreSQL's one-array-per-column form
and its VALUES fallback included).
"""

import datetime
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.db import DataError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils.safestring import mark_safe

from tests.testapp.models import Author, Country, Sample
from winidjango.src.db._backends import get_writer
from winidjango.src.db._backends.base import BulkSqlWriter, plain_integers
from winidjango.src.db.bulk import (
    bulk_create_in_steps,
    bulk_delete_in_steps,
    bulk_update_in_steps,
)

# --- helpers -----------------------------------------------------------------


def _writer(alias: str) -> BulkSqlWriter:
    return get_writer(connections[alias])


def _delete(alias: str, model: type[Model], keys: Sequence[Any]) -> int:
    meta = model._meta
    assert meta.pk is not None
    with connections[alias].cursor() as cursor:
        return _writer(alias).delete_rows(
            cursor, meta.db_table, str(meta.pk.column), keys
        )


def _update(
    alias: str, model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[int, str]:
    """Run the writer's UPDATE for ``rows`` of database values; (rowcount, SQL)."""
    connection = connections[alias]
    writer = get_writer(connection)
    meta = model._meta
    assert meta.pk is not None
    fields = [meta.get_field(name) for name in names]
    casts = [
        writer.value_cast(field.db_type(connection)) for field in [meta.pk, *fields]
    ]
    sql, params = writer.update_statement(
        meta.db_table,
        str(meta.pk.column),
        [str(field.column) for field in fields],  # type: ignore[union-attr]
        casts,
        rows,
    )
    with connection.cursor() as cursor, writer.planner_settings(cursor):
        cursor.execute(sql, params)
        return cursor.rowcount, sql


def _names() -> set[str]:
    return set(Author.objects.values_list("name", flat=True))


def _update_sql(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith("UPDATE")
    ]


# --- plain_integers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, 3], True),
        ([-(2**63), 2**63 - 1], True),
        ([0], True),
        ([2**63], False),
        ([-(2**63) - 1], False),
        ([1, True], False),
        ([1, "2"], False),
        ([1, None], False),
        ([1.0], False),
        ([], False),
    ],
)
def test_plain_integers(values: list[Any], expected: bool) -> None:
    assert plain_integers(values) is expected


# --- delete_rows ---------------------------------------------------------------


def test_delete_rows_integer_keys_duplicates_and_missing(alias: str) -> None:
    authors = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(10)])
    gone = [author.pk for author in authors[:6]]
    keys = [*gone, gone[0], gone[3], max(gone) + 10**12]
    assert _delete(alias, Author, keys) == 6
    assert _names() == {f"a{i}" for i in range(6, 10)}


def test_delete_rows_negative_keys(alias: str) -> None:
    Author.objects.bulk_create(
        [Author(pk=-5, name="minus five"), Author(pk=-1, name="minus one")]
    )
    Author.objects.create(name="kept")
    assert _delete(alias, Author, [-5, -1]) == 2
    assert _names() == {"kept"}


def test_delete_rows_splits_long_key_lists(alias: str) -> None:
    authors = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(10)])
    writer = _writer(alias)
    writer.max_inline_keys = 3
    meta = Author._meta
    connection = connections[alias]
    with (
        CaptureQueriesContext(connection) as queries,
        connection.cursor() as cursor,
    ):
        deleted = writer.delete_rows(
            cursor, meta.db_table, "id", [author.pk for author in authors[:8]]
        )
    deletes = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")
    ]
    assert deleted == 8
    assert len(deletes) == 3
    assert _names() == {"a8", "a9"}


def test_delete_rows_string_keys_are_bound_not_spelled(alias: str) -> None:
    codes = ["a'", "%s", "b\\", '"x', "zz"]
    Country.objects.bulk_create([Country(code=code, name=code) for code in codes])
    assert _delete(alias, Country, ["a'", "%s", "b\\", '"x', "no"]) == 4
    assert list(Country.objects.values_list("code", flat=True)) == ["zz"]


def test_delete_rows_through_bulk_delete_counts_each_row_once(alias: str) -> None:
    authors = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(7)])
    Author.objects.filter(pk=authors[1].pk).delete()  # already gone
    twice = [*authors[:4], authors[0]]
    assert bulk_delete_in_steps(Author, twice, step=10) == (
        3,
        {"testapp.Author": 3},
    )
    assert _names() == {"a4", "a5", "a6"}


def test_delete_rows_refuses_unsaved_and_foreign_objects_before_deleting(
    alias: str,
) -> None:
    authors = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(5)])
    with pytest.raises(ValueError, match="Author, row 6: "):
        bulk_delete_in_steps(Author, [*authors, Author(name="new")], step=2)
    mixed: list[Any] = [*authors[:2], Country(code="x")]
    with pytest.raises(TypeError, match="Author, row 3: "):
        bulk_delete_in_steps(Author, mixed, step=2)
    assert len(_names()) == 5


# --- update_statement --------------------------------------------------------

_AWKWARD_STRINGS = [
    "",
    " ",
    " padded ",
    'a"b',
    "back\\slash",
    "trailing\\",
    '\\"',
    "{x,y}",
    "{}",
    "NULL",
    "null",
    "comma,separated",
    "new\nline\r\n",
    "tab\t",
    "quote'single",
    "%s",
    "%(name)s",
    "100%",
    "é" * 20,
    "北京 🐍",
]


def test_awkward_strings_round_trip(backend: str, alias: str) -> None:
    samples = Sample.objects.bulk_create(
        [Sample(name="before", text="before") for _ in _AWKWARD_STRINGS]
    )
    for sample, text in zip(samples, _AWKWARD_STRINGS, strict=True):
        sample.name = text
        sample.text = text * 3
    with CaptureQueriesContext(connections[alias]) as queries:
        assert bulk_update_in_steps(Sample, samples, ["name", "text"], step=7) == len(
            samples
        )
    stored = {s.pk: (s.name, s.text) for s in Sample.objects.all()}
    assert stored == {s.pk: (s.name, s.text) for s in samples}
    if backend == "postgresql":
        assert all("unnest(" in sql for sql in _update_sql(queries))


_EVERY_TYPE: dict[str, list[Any]] = {
    "number": [None, -(2**31), 2**31 - 1, 0],
    "big": [-(2**63), 2**63 - 1, None, 7],
    "amount": [Decimal("-99999999.9999"), Decimal("0.0001"), None, Decimal("12.5")],
    "flag": [True, False, None, True],
    "day": [datetime.date(1000, 1, 1), None, datetime.date(9999, 12, 31), None],
    "moment": [
        datetime.datetime(1970, 1, 2, tzinfo=datetime.UTC),
        datetime.datetime(2038, 1, 19, 3, 14, 8, 123456, tzinfo=datetime.UTC),
        None,
        datetime.datetime(
            2024, 2, 29, 23, 59, tzinfo=datetime.timezone(datetime.timedelta(hours=5))
        ),
    ],
    "clock": [datetime.time(0, 0), datetime.time(23, 59, 59, 999999), None, None],
    "uid": [uuid.UUID(int=1, version=4), None, uuid.uuid4(), uuid.uuid4()],
    "data": [{"a": [1, "x", None]}, [1, 2], "text", None],
}


def test_every_column_type_round_trips(backend: str, alias: str) -> None:
    samples = Sample.objects.bulk_create([Sample(name=f"s{i}") for i in range(4)])
    for position, sample in enumerate(samples):
        for column, values in _EVERY_TYPE.items():
            setattr(sample, column, values[position])
    with CaptureQueriesContext(connections[alias]) as queries:
        assert bulk_update_in_steps(Sample, samples, list(_EVERY_TYPE)) == 4
    stored = {row["pk"]: row for row in Sample.objects.values("pk", *list(_EVERY_TYPE))}
    for position, sample in enumerate(samples):
        expected = {column: values[position] for column, values in _EVERY_TYPE.items()}
        assert {column: stored[sample.pk][column] for column in expected} == expected
    if backend == "postgresql":
        assert all("unnest(" in sql for sql in _update_sql(queries))


def test_all_null_column_and_single_row(alias: str) -> None:
    samples = Sample.objects.bulk_create(
        [Sample(name="n", number=i, uid=uuid.uuid4()) for i in range(3)]
    )
    for sample in samples:
        sample.number = None
        sample.uid = None
    assert bulk_update_in_steps(Sample, samples, ["number", "uid"]) == 3
    assert set(Sample.objects.values_list("number", "uid")) == {(None, None)}
    samples[0].number = 5
    assert bulk_update_in_steps(Sample, samples[:1], ["number"]) == 1
    assert Sample.objects.get(pk=samples[0].pk).number == 5


def test_mixed_value_types_in_a_column_still_write_exactly(
    backend: str, alias: str
) -> None:
    # A str subclass next to plain strs: PostgreSQL falls back to VALUES,
    # whose parameters psycopg adapts one by one.
    authors = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(3)])
    rows = [
        [authors[0].pk, mark_safe("<b>safe</b>")],
        [authors[1].pk, "plain"],
        [authors[2].pk, "third"],
    ]
    count, sql = _update(alias, Author, ["name"], rows)
    assert count == 3
    assert _names() == {"<b>safe</b>", "plain", "third"}
    if backend == "postgresql":
        assert "VALUES" in sql
        assert "unnest(" not in sql


@pytest.mark.backends("postgresql")  # the array form is PostgreSQL's
def test_integers_beyond_64_bits_fall_back_and_fail_like_before(
    backend: str, alias: str
) -> None:
    sample = Sample.objects.create(name="big", big=1)
    with pytest.raises(DataError), transaction.atomic(using=alias):
        _update(alias, Sample, ["big"], [[sample.pk, 2**63]])
    assert Sample.objects.get(pk=sample.pk).big == 1


def test_update_at_max_length_kept_and_longer_refused(backend: str, alias: str) -> None:
    samples = Sample.objects.bulk_create([Sample(name="x"), Sample(name="y")])
    samples[0].name = "é" * 20
    samples[1].name = "ok"
    assert bulk_update_in_steps(Sample, samples, ["name"]) == 2
    assert Sample.objects.get(pk=samples[0].pk).name == "é" * 20
    samples[1].name = "z" * 21
    if backend == "sqlite":
        # SQLite does not enforce VARCHAR lengths: kept whole, never cut.
        bulk_update_in_steps(Sample, samples, ["name"])
        assert Sample.objects.get(pk=samples[1].pk).name == "z" * 21
        return
    with pytest.raises(DataError), transaction.atomic(using=alias):
        bulk_update_in_steps(Sample, samples, ["name"])
    assert Sample.objects.get(pk=samples[1].pk).name == "ok"


def test_update_matches_rows_by_key_only(alias: str) -> None:
    authors = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(4)])
    missing = max(author.pk for author in authors) + 1000
    rows = [[authors[2].pk, "two"], [missing, "nobody"], [authors[0].pk, "zero"]]
    count, _ = _update(alias, Author, ["name"], rows)
    assert count == 2
    assert _names() == {"zero", "a1", "two", "a3"}


# --- columns the test models lack: bytes, floats, durations -------------------

_SCRATCH_FIELDS: dict[str, "models.Field[Any, Any]"] = {
    "blob": models.BinaryField(null=True),
    "ratio": models.FloatField(null=True),
    "span": models.DurationField(null=True),
}


class _Scratch:
    """A temporary table with columns of ``_SCRATCH_FIELDS``' database types.

    Temporary tables are created and dropped without committing on all three
    databases (MariaDB included), so the test's transaction stays intact.
    """

    table = "winidjango_scratch"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.writer = get_writer(connection)

    def create(self, rows: dict[int, dict[str, Any]]) -> None:
        quote = self.connection.ops.quote_name
        columns = ", ".join(
            f"{quote(name)} {field.db_type(self.connection)} NULL"
            for name, field in _SCRATCH_FIELDS.items()
        )
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {quote(self.table)} "
                f"(id bigint NOT NULL PRIMARY KEY, {columns})"
            )
            for key, values in rows.items():
                self._insert(cursor, key, values)

    def _insert(self, cursor: Any, key: int, values: dict[str, Any]) -> None:
        quote = self.connection.ops.quote_name
        names = ", ".join(quote(name) for name in _SCRATCH_FIELDS)
        marks = ", ".join(["%s"] * (len(_SCRATCH_FIELDS) + 1))
        cursor.execute(
            f"INSERT INTO {quote(self.table)} (id, {names}) VALUES ({marks})",
            [key, *self._db_values(values)],
        )

    def _db_values(self, values: dict[str, Any]) -> list[Any]:
        return [
            field.get_db_prep_save(values[name], self.connection)
            for name, field in _SCRATCH_FIELDS.items()
        ]

    def update(self, rows: dict[int, dict[str, Any]]) -> tuple[int, str]:
        casts = [
            self.writer.value_cast(field.db_type(self.connection))
            for field in [models.BigIntegerField(), *_SCRATCH_FIELDS.values()]
        ]
        sql, params = self.writer.update_statement(
            self.table,
            "id",
            list(_SCRATCH_FIELDS),
            casts,
            [[key, *self._db_values(values)] for key, values in rows.items()],
        )
        with (
            self.connection.cursor() as cursor,
            self.writer.planner_settings(cursor),
        ):
            cursor.execute(sql, params)
            return cursor.rowcount, sql

    def read(self) -> dict[int, dict[str, Any]]:
        quote = self.connection.ops.quote_name
        names = ", ".join(quote(name) for name in _SCRATCH_FIELDS)
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT id, {names} FROM {quote(self.table)}")
            return {
                key: dict(zip(_SCRATCH_FIELDS, self._python(rest), strict=True))
                for key, *rest in cursor.fetchall()
            }

    def _python(self, values: Sequence[Any]) -> list[Any]:
        blob, ratio, span = values
        if blob is not None:
            blob = bytes(blob)
        if span is not None and not isinstance(span, datetime.timedelta):
            span = datetime.timedelta(microseconds=span)  # stored as an integer
        return [blob, ratio, span]

    def drop(self) -> None:
        quote = self.connection.ops.quote_name
        drop = (
            "DROP TEMPORARY TABLE"
            if self.connection.vendor == "mysql"
            else "DROP TABLE"
        )
        with self.connection.cursor() as cursor:
            cursor.execute(f"{drop} {quote(self.table)}")


@contextmanager
def _scratch(
    connection: BaseDatabaseWrapper, rows: dict[int, dict[str, Any]]
) -> Iterator[_Scratch]:
    scratch = _Scratch(connection)
    scratch.create(rows)
    try:
        yield scratch
    finally:
        scratch.drop()


_BEFORE = {"blob": b"old", "ratio": 1.0, "span": datetime.timedelta(seconds=1)}
_AFTER: dict[int, dict[str, Any]] = {
    1: {"blob": b"", "ratio": 0.1, "span": datetime.timedelta(0)},
    2: {
        "blob": bytes(range(256)),
        "ratio": -1e-300,
        "span": datetime.timedelta(days=-3, microseconds=7),
    },
    3: {
        "blob": b'\\x00{"a,b"}NULL',
        "ratio": 1.7976931348623157e308,
        "span": datetime.timedelta(days=999, seconds=86399, microseconds=999999),
    },
    4: {"blob": None, "ratio": None, "span": None},
    5: {"blob": b"x" * 100_000, "ratio": float(2**53), "span": None},
}


def test_bytes_floats_and_durations_round_trip(backend: str, alias: str) -> None:
    connection = connections[alias]
    with _scratch(connection, dict.fromkeys(_AFTER, _BEFORE)) as scratch:
        count, sql = scratch.update(_AFTER)
        assert count == len(_AFTER)
        assert scratch.read() == _AFTER
    if backend == "postgresql":
        assert "unnest(" in sql


@pytest.mark.backends("postgresql")  # only it stores NaN and infinities
def test_float_specials_round_trip_on_postgresql(backend: str, alias: str) -> None:
    connection = connections[alias]
    after = {
        1: {**_BEFORE, "ratio": float("inf")},
        2: {**_BEFORE, "ratio": float("-inf")},
        3: {**_BEFORE, "ratio": float("nan")},
        4: {**_BEFORE, "ratio": -0.0},
    }
    with _scratch(connection, dict.fromkeys(after, _BEFORE)) as scratch:
        count, _ = scratch.update(after)
        stored = scratch.read()
    assert count == 4
    assert stored[1]["ratio"] == float("inf")
    assert stored[2]["ratio"] == float("-inf")
    assert stored[3]["ratio"] != stored[3]["ratio"]  # NaN
    assert str(stored[4]["ratio"]) == "-0.0"


def test_bytes_and_memoryviews_round_trip(alias: str) -> None:
    connection = connections[alias]
    after = {
        1: {**_BEFORE, "blob": b"\x80bytes"},
        2: {**_BEFORE, "blob": memoryview(b"\xffview")},
    }
    with _scratch(connection, dict.fromkeys(after, _BEFORE)) as scratch:
        count, _ = scratch.update(after)
        stored = scratch.read()
    assert count == 2
    assert {key: row["blob"] for key, row in stored.items()} == {
        1: b"\x80bytes",
        2: b"\xffview",
    }


# --- PostgreSQL with server-side binding ----------------------------------------


@pytest.mark.backends("postgresql")  # a psycopg 3 option
def test_postgresql_writer_with_server_side_binding(backend: str, alias: str) -> None:
    settings = connections[alias].settings_dict
    wrapper_class = type(connections[alias])
    options = {**settings.get("OPTIONS", {}), "server_side_binding": True}
    connection = wrapper_class({**settings, "OPTIONS": options}, alias)
    try:
        with _scratch(connection, dict.fromkeys(_AFTER, _BEFORE)) as scratch:
            count, sql = scratch.update(_AFTER)
            assert count == len(_AFTER)
            assert scratch.read() == _AFTER
            assert "unnest(" in sql
            with connection.cursor() as cursor:
                deleted = scratch.writer.delete_rows(
                    cursor, scratch.table, "id", [1, 3, 3, 99]
                )
            assert deleted == 2
            assert sorted(scratch.read()) == [2, 4, 5]
    finally:
        connection.close()


# --- insert_rows: values through COPY's text format (PostgreSQL) ---------------


_AWKWARD_TEXTS = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "\\.",
    "",
    "é ü 漢字 🎉",
    "ends with backslash \\",
]


def test_insert_rows_keeps_awkward_strings_and_nulls(alias: str) -> None:
    # On PostgreSQL these go through COPY's text format, escaped by winidjango.
    names = [f"n{i}" for i in range(len(_AWKWARD_TEXTS))]
    samples = [
        Sample(
            name=name, text=text, number=None if i % 2 else -(2**31), flag=bool(i % 3)
        )
        for i, (name, text) in enumerate(zip(names, _AWKWARD_TEXTS, strict=True))
    ]
    bulk_create_in_steps(Sample, samples)
    stored = {
        row[0]: row[1:]
        for row in Sample.objects.values_list("name", "text", "number", "flag")
    }
    for i, (name, text) in enumerate(zip(names, _AWKWARD_TEXTS, strict=True)):
        assert stored[name] == (text, None if i % 2 else -(2**31), bool(i % 3))
