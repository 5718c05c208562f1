"""Correctness of the backend writers in corner cases (issue #10).

- MariaDB: statements sized in bytes against the server's
  ``max_allowed_packet``, for inserts and updates (4-byte characters).
- SQLite: two processes creating rows of one table at once both succeed.
- Tables named like the aliases the generated SQL introduces.
- ``using=`` naming no configured database is refused by every function.
- PostgreSQL through psycopg2.
- The writer is chosen by the backend's class; an unknown backend falls back
  to Django's own SQL.
"""

import datetime
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, connections
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils.connection import ConnectionDoesNotExist

import winidjango.src.db._backends as backends_module
from tests.testapp.models import Author, Book, Sample, TableV, TableV1, TableV2, Tag
from winidjango.src.db._backends import get_writer, writer_class
from winidjango.src.db._backends.fallback import DjangoWriter
from winidjango.src.db._backends.mysql import MySqlWriter
from winidjango.src.db._backends.postgresql import PostgreSqlWriter
from winidjango.src.db._backends.sqlite import SqliteWriter
from winidjango.src.db.bulk import (
    bulk_create_bulks_in_steps,
    bulk_create_from_frame,
    bulk_create_in_steps,
    bulk_delete_in_steps,
    bulk_update_in_steps,
    check_frame,
    multi_simulate_bulk_deletion,
    simulate_bulk_deletion,
)

_REPO_ROOT = Path(__file__).resolve().parents[3]

# --- MariaDB: statement size in bytes ------------------------------------------

_EMOJI = "\U0001f600"  # one str character, four UTF-8 bytes
_MIB = 1024 * 1024


def _emoji_text(index: int, characters: int) -> str:
    return f"{index}:" + _EMOJI * characters


@pytest.mark.backends("mariadb")
@pytest.mark.django_db(transaction=True)
def test_mariadb_statements_fit_a_lowered_max_allowed_packet(
    backend: str, alias: str
) -> None:
    """Rows of 4-byte characters under a 4 MiB packet: inserted and updated.

    Each row holds 500,000 emoji: 2 MB of statement, 0.5 M characters. Sized
    by characters, the three rows went into one 6 MB statement, which the
    server refused. The session's packet limit is fixed when it connects, so
    the global value is lowered only while this test's connection opens.
    """
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@global.max_allowed_packet")
        original = int(cursor.fetchone()[0])
        cursor.execute("SET GLOBAL max_allowed_packet = %s", [4 * _MIB])
    try:
        connection.close()
        connection.ensure_connection()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET GLOBAL max_allowed_packet = %s", [original])
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@session.max_allowed_packet")
        assert int(cursor.fetchone()[0]) == 4 * _MIB
    writer = get_writer(connection)
    assert isinstance(writer, MySqlWriter)
    assert writer.max_statement_bytes < 4 * _MIB

    try:
        samples = [Sample(name=f"s{i}", text=_emoji_text(i, 500_000)) for i in range(3)]
        bulk_create_in_steps(Sample, samples, step=1000)
        stored = dict(Sample.objects.values_list("name", "text"))
        assert stored == {f"s{i}": _emoji_text(i, 500_000) for i in range(3)}

        for i, sample in enumerate(samples):
            sample.text = _emoji_text(i + 10, 500_000)
        assert bulk_update_in_steps(Sample, samples, ["text"], step=1000) == 3
        stored = dict(Sample.objects.values_list("name", "text"))
        assert stored == {f"s{i}": _emoji_text(i + 10, 500_000) for i in range(3)}
    finally:
        connection.close()  # no later test inherits the lowered session


@pytest.mark.backends("mariadb")
@pytest.mark.django_db(transaction=True)
def test_mariadb_statements_fit_the_servers_max_allowed_packet(
    backend: str,
) -> None:
    """Enough 4-byte text to overflow the server's packet as one statement."""
    with connections["mariadb"].cursor() as cursor:
        cursor.execute("SELECT @@max_allowed_packet")
        packet = int(cursor.fetchone()[0])
    if packet > 64 * _MIB:
        pytest.skip(f"max_allowed_packet is {packet} bytes; the test needs <= 64 MiB")
    characters = 1_000_000  # 4 MB per row
    count = packet // (4 * characters) + 2
    samples = [
        Sample(name=f"s{i}", text=_emoji_text(i, characters)) for i in range(count)
    ]
    bulk_create_in_steps(Sample, samples)
    assert Sample.objects.count() == count
    for sample in Sample.objects.only("name", "text"):
        assert sample.text == _emoji_text(int(sample.name[1:]), characters)

    for i, sample in enumerate(samples):
        sample.text = _emoji_text(i + 100, characters)
    assert bulk_update_in_steps(Sample, samples, ["text"]) == count
    for sample in Sample.objects.only("name", "text"):
        assert sample.text == _emoji_text(int(sample.name[1:]) + 100, characters)


@pytest.mark.backends("mariadb")
@pytest.mark.django_db
def test_mariadb_update_is_split_in_bytes(backend: str, alias: str) -> None:
    """Update statements are split by the byte budget, not only by row count."""
    writer = get_writer(connections[alias])
    budget = writer.max_statement_bytes
    row = [1, _EMOJI * (budget // 12)]  # a third of the budget in bytes
    statements = writer.update_statements(
        "t", "id", ["text"], [None, None], [row] * 9, max_rows=1000
    )
    assert len(statements) == 5
    assert all(len(sql.encode()) < budget for sql, _ in statements)


def test_mariadb_chunk_measure_equals_row_measure() -> None:
    """Measuring a chunk at once gives the sum of its rows' sizes."""
    from winidjango.src.db._backends import mysql

    rows = [
        (
            "a'\\\n" + _EMOJI * i,
            None,
            b"\x00'xy" * i,
            Decimal("1.25"),
            datetime.date(2024, 1, 1),
            memoryview(b"ab"),
            3.5,
            True,
            2**60,
        )
        for i in range(50)
    ]
    assert mysql._values_bytes(rows) == sum(map(mysql._row_bytes, rows))
    # An emoji is four bytes, a quote or backslash two (escaped).
    assert mysql._value_bytes(_EMOJI) == 4 + 4
    assert mysql._value_bytes("'\\") == 4 + 4


# --- SQLite: concurrent writers ------------------------------------------------

_SQLITE_CHILD = """
import sys, time
from pathlib import Path
import django
from django.conf import settings

path, mode, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
settings.configure(
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {"timeout": 60},
        }
    },
    INSTALLED_APPS=[
        "django.contrib.contenttypes", "django.contrib.auth", "tests.testapp"
    ],
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()
from django.db import connection
from tests.testapp.models import Author
from winidjango.src.db.bulk import bulk_create_in_steps

if mode == "setup":
    with connection.schema_editor() as editor:
        editor.create_model(Author)
elif mode == "hold":
    # One atomic call that keeps the write lock for about 2 seconds: it
    # signals once its first chunk is written, then dawdles after each.
    def progress(model, count):
        marker.touch()
        time.sleep(0.2)

    authors = [Author(name=f"hold-{i}") for i in range(250)]
    bulk_create_in_steps(Author, authors, step=25, progress=progress)
else:
    while not marker.exists():
        time.sleep(0.01)
    authors = [Author(name=f"wait-{i}") for i in range(100)]
    bulk_create_in_steps(Author, authors, step=25)
"""


def _run_child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=_REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(_REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], timeout: float = 300) -> str:
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr
    return stdout


def test_sqlite_two_processes_create_rows_at_once(tmp_path: Path) -> None:
    """The second writer waits for the first one's write lock, then succeeds.

    One process holds the write lock in a long atomic call while the other
    starts its own. Reading the largest key before the first write made the
    second fail at once with "database is locked" instead of waiting for the
    busy timeout, as Django's ``bulk_create`` does.
    """
    import sqlite3

    path = str(tmp_path / "shared.sqlite3")
    marker = str(tmp_path / "first-chunk-written")
    _finish(_run_child(_SQLITE_CHILD, path, "setup", marker))
    children = [
        _run_child(_SQLITE_CHILD, path, mode, marker) for mode in ("hold", "wait")
    ]
    for child in children:
        _finish(child)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, name FROM testapp_author").fetchall()
    assert len(rows) == 350
    assert len({key for key, _ in rows}) == len(rows)
    assert {name for _, name in rows} == {f"hold-{i}" for i in range(250)} | {
        f"wait-{i}" for i in range(100)
    }


@pytest.mark.backends("sqlite")
@pytest.mark.django_db
def test_sqlite_create_writes_before_it_reads(backend: str, alias: str) -> None:
    """The first statement of a create is an INSERT, so it takes the write lock."""
    Author.objects.create(name="existing")
    with CaptureQueriesContext(connections[alias]) as queries:
        created = bulk_create_in_steps(Author, [Author(name=f"n{i}") for i in range(5)])
    statements = [
        query["sql"]
        for query in queries.captured_queries
        if not query["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN"))
    ]
    assert statements[0].upper().startswith("INSERT")
    keys = [author.pk for author in created]
    assert keys == list(range(keys[0], keys[0] + 5))
    assert dict(Author.objects.filter(pk__in=keys).values_list("pk", "name")) == {
        author.pk: author.name for author in created
    }


# --- Tables named like the SQL's aliases -----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("model", [TableV, TableV1, TableV2])
def test_tables_named_like_aliases(backend: str, model: type[Model]) -> None:
    """Create, update (objects and frame rows) and delete tables named v, v1, v2."""
    value_field = "v1" if model is TableV else "v" if model is TableV2 else None
    objs = [model(name=f"n{i}") for i in range(7)]
    bulk_create_in_steps(model, objs, step=3)
    assert bulk_create_from_frame(model, pl.DataFrame({"name": ["f0", "f1"]})) == 2

    for i, obj in enumerate(objs):
        obj.name = f"renamed{i}"  # type: ignore[attr-defined]
        if value_field:
            setattr(obj, value_field, i * 10)
    fields = ["name", value_field] if value_field else ["name"]
    assert bulk_update_in_steps(model, objs, fields, step=3) == 7
    stored = {
        row["name"]: row.get(value_field) if value_field else None
        for row in model._default_manager.values()
    }
    expected: dict[str, int | None] = {
        f"renamed{i}": (i * 10 if value_field else None) for i in range(7)
    }
    assert stored == {**expected, "f0": None, "f1": None}

    assert set(simulate_bulk_deletion(model, objs[:2])) == {model}
    total, _ = bulk_delete_in_steps(model, objs[:4], step=3)
    assert total == 4
    assert sorted(model._default_manager.values_list("name", flat=True)) == [
        "f0",
        "f1",
        "renamed4",
        "renamed5",
        "renamed6",
    ]


@pytest.mark.backends("postgresql")
@pytest.mark.django_db
def test_postgresql_values_update_of_table_v(backend: str, alias: str) -> None:
    """PostgreSQL's VALUES form (for types no array carries) on table ``v``."""
    connection = connections[alias]
    writer = get_writer(connection)
    assert isinstance(writer, PostgreSqlWriter)
    objs = bulk_create_in_steps(TableV, [TableV(name=f"n{i}") for i in range(3)])
    sql, params = writer._values_update_statement(
        "v",
        "id",
        ["name", "v1"],
        ["bigint", "text", "integer"],
        [[obj.pk, f"x{i}", i] for i, obj in enumerate(objs)],
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.rowcount == 3
    assert sorted(TableV.objects.values_list("name", "v1")) == [
        ("x0", 0),
        ("x1", 1),
        ("x2", 2),
    ]


# --- using= an unknown alias -------------------------------------------------------

_NOPE_CALLS: dict[str, Callable[[], Any]] = {
    "bulk_create_in_steps": lambda: bulk_create_in_steps(
        Author, [Author(name="a")], using="nope"
    ),
    "bulk_create_in_steps (empty)": lambda: bulk_create_in_steps(
        Author, [], using="nope"
    ),
    "bulk_create_from_frame": lambda: bulk_create_from_frame(
        Author, pl.DataFrame({"name": ["a"]}), using="nope"
    ),
    "check_frame": lambda: check_frame(
        Author, pl.DataFrame({"name": ["a"]}), using="nope"
    ),
    "bulk_update_in_steps": lambda: bulk_update_in_steps(
        Author, [Author(pk=1, name="a")], ["name"], using="nope"
    ),
    "bulk_delete_in_steps": lambda: bulk_delete_in_steps(
        Author, [Author(pk=1, name="a")], using="nope"
    ),
    "bulk_create_bulks_in_steps": lambda: bulk_create_bulks_in_steps(
        {Author: [Author(name="a")]}, using="nope"
    ),
    "bulk_create_bulks_in_steps (empty)": lambda: bulk_create_bulks_in_steps(
        {}, using="nope"
    ),
    "simulate_bulk_deletion": lambda: simulate_bulk_deletion(
        TableV1, [TableV1(pk=1, name="a")], using="nope"
    ),
    "multi_simulate_bulk_deletion": lambda: multi_simulate_bulk_deletion(
        {TableV1: [TableV1(pk=1, name="a")]}, using="nope"
    ),
    "multi_simulate_bulk_deletion (empty)": lambda: multi_simulate_bulk_deletion(
        {}, using="nope"
    ),
}


@pytest.mark.parametrize("call", sorted(_NOPE_CALLS))
def test_unknown_alias_is_refused(call: str) -> None:
    """Every function refuses ``using="nope"`` before touching any database.

    No ``django_db`` mark: a query on any database would fail this test
    with pytest-django's "database access not allowed" instead.
    """
    with pytest.raises(ConnectionDoesNotExist, match=r"using='nope'.*'default'"):
        _NOPE_CALLS[call]()


# --- PostgreSQL through psycopg2 ----------------------------------------------------

_PSYCOPG2_CHILD = """
import datetime, json, sys, uuid
from decimal import Decimal

sys.modules["psycopg"] = None  # Django must fall back to psycopg2
import django
from django.conf import settings

settings.configure(
    DATABASES={"default": json.loads(sys.argv[1])},
    INSTALLED_APPS=[
        "django.contrib.contenttypes", "django.contrib.auth", "tests.testapp"
    ],
    USE_TZ=True,
    TIME_ZONE="UTC",
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()
import polars as pl
from django.db import connection
from tests.testapp.models import Author, Book, Sample
from winidjango.src.db.bulk import (
    bulk_create_from_frame, bulk_create_in_steps, bulk_delete_in_steps,
    bulk_update_in_steps,
)

assert connection.Database.__name__ == "psycopg2", connection.Database

def sample(i, text):
    return Sample(
        name=f"s{i}", text=text, number=i, big=2**40 + i, amount=Decimal(f"{i}.125"),
        flag=i % 2 == 0, day=datetime.date(2024, 1, 1 + i),
        moment=datetime.datetime(2024, 1, 1, 12, i, tzinfo=datetime.UTC),
        clock=datetime.time(8, i), uid=uuid.UUID(int=i), data={"i": i, "t": text},
    )

samples = bulk_create_in_steps(
    Sample, [sample(i, f"tab\\there\\nnew \\\\ {i}") for i in range(5)], step=2
)
for obj in samples:
    obj.text = obj.text + " updated"
    obj.number = obj.number + 100
    obj.data = {"updated": obj.pk}
bulk_update_in_steps(Sample, samples, ["text", "number", "data"], step=2)
bulk_delete_in_steps(Sample, samples[3:], step=1)
frame = pl.DataFrame(
    {"name": ["f0", "f1"], "text": ["a\\tb", "c\\\\d"], "number": [1, 2]}
)
bulk_create_from_frame(Sample, frame)
authors = bulk_create_in_steps(Author, [Author(name=f"a{i}") for i in range(3)])
books = [Book(title=f"b{i}", author=authors[i % 3]) for i in range(6)]
bulk_create_in_steps(Book, books)
print(json.dumps(bulk_delete_in_steps(Author, authors[:1])))
"""


@pytest.mark.backends("postgresql")
@pytest.mark.django_db(transaction=True)
def test_postgresql_through_psycopg2(backend: str, alias: str) -> None:
    """Create, update, delete and a frame write with psycopg2 as the driver."""
    settings = connections[alias].settings_dict
    database = {
        "ENGINE": "django.db.backends.postgresql",
        **{key: settings[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
    }
    output = _finish(_run_child(_PSYCOPG2_CHILD, json.dumps(database)))
    assert json.loads(output) == [3, {"testapp.Author": 1, "testapp.Book": 2}]

    stored = {sample.name: sample for sample in Sample.objects.all()}
    assert sorted(stored) == ["f0", "f1", "s0", "s1", "s2"]
    for i in range(3):
        got = stored[f"s{i}"]
        assert got.text == f"tab\there\nnew \\ {i} updated"
        assert got.number == i + 100
        assert got.big == 2**40 + i
        assert got.amount == Decimal(f"{i}.125")
        assert got.flag is (i % 2 == 0)
        assert got.day == datetime.date(2024, 1, 1 + i)
        assert got.moment == datetime.datetime(2024, 1, 1, 12, i, tzinfo=datetime.UTC)
        assert got.clock == datetime.time(8, i)
        assert got.uid == uuid.UUID(int=i)
        assert got.data == {"updated": got.pk}
    assert (stored["f0"].text, stored["f0"].number) == ("a\tb", 1)
    assert (stored["f1"].text, stored["f1"].number) == ("c\\d", 2)
    assert sorted(Author.objects.values_list("name", flat=True)) == ["a1", "a2"]
    assert Book.objects.count() == 4


# --- Writer chosen by the backend's class ------------------------------------


def test_writer_chosen_by_wrapper_class() -> None:
    """Subclasses of Django's wrappers get the fast writer; others the fallback."""
    assert writer_class(connections["default"]) is SqliteWriter
    assert writer_class(connections["sqlitesub"]) is SqliteWriter
    assert connections["sqlitesub"].vendor == "sqlitesub"
    assert writer_class(connections["unknowndb"]) is DjangoWriter
    if "postgresql" in connections.settings:
        assert writer_class(connections["postgresql"]) is PostgreSqlWriter
        assert writer_class(connections["pgsub"]) is PostgreSqlWriter
        assert connections["pgsub"].vendor == "pgsub"
    if "mariadb" in connections.settings:
        assert writer_class(connections["mariadb"]) is MySqlWriter


@pytest.mark.skipif(
    "pgsub" not in django_settings.DATABASES, reason="PostgreSQL not reachable"
)
@pytest.mark.django_db(transaction=True, databases=["postgresql", "pgsub"])
def test_postgresql_subclass_backend_uses_copy() -> None:
    statements: list[str] = []

    def record(execute: Any, sql: str, *args: Any) -> Any:
        statements.append(sql)
        return execute(sql, *args)

    with connections["pgsub"].execute_wrapper(record):
        created = bulk_create_in_steps(
            Author, [Author(name=f"a{i}") for i in range(5)], using="pgsub"
        )
    assert any(sql.startswith("COPY") for sql in statements)
    stored = dict(Author.objects.using("postgresql").values_list("pk", "name"))
    assert stored == {author.pk: author.name for author in created}


@pytest.mark.django_db(transaction=True, databases=["default", "sqlitesub"])
def test_sqlite_subclass_backend_uses_fast_writer() -> None:
    created = bulk_create_in_steps(
        Author, [Author(name=f"a{i}") for i in range(5)], using="sqlitesub"
    )
    assert isinstance(get_writer(connections["sqlitesub"]), SqliteWriter)
    stored = dict(Author.objects.using("default").values_list("pk", "name"))
    assert stored == {author.pk: author.name for author in created}


@pytest.mark.django_db(transaction=True, databases=["default", "unknowndb"])
def test_unknown_backend_falls_back_to_django_sql(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every operation writes the right rows through Django's SQL; one log line."""
    monkeypatch.setattr(backends_module, "_reported", set())
    caplog.set_level(logging.INFO, logger="winidjango.src.db._backends")
    using = "unknowndb"
    samples = bulk_create_in_steps(
        Sample,
        [
            Sample(name=f"s{i}", number=i, amount=Decimal("1.5"), uid=uuid.UUID(int=i))
            for i in range(5)
        ],
        step=2,
        using=using,
    )
    assert [s.pk for s in samples] == sorted(s.pk for s in samples)
    for sample in samples:
        sample.number = sample.number + 10  # type: ignore[operator]
        sample.name = sample.name.upper()
    assert bulk_update_in_steps(Sample, samples, ["number", "name"], using=using) == 5
    frame = pl.DataFrame({"name": ["f0", "f1"], "number": [7, 8]})
    assert bulk_create_from_frame(Sample, frame, step=1, using=using) == 2
    assert bulk_delete_in_steps(Sample, samples[:2], using=using) == (
        2,
        {"testapp.Sample": 2},
    )
    authors = bulk_create_in_steps(
        Author, [Author(name=f"a{i}") for i in range(2)], using=using
    )
    bulk_create_in_steps(
        Book,
        [Book(title=f"b{i}", author=authors[i % 2]) for i in range(4)],
        using=using,
    )
    assert bulk_delete_in_steps(Author, authors[:1], using=using) == (
        3,
        {"testapp.Author": 1, "testapp.Book": 2},
    )

    stored = {
        name: (number, amount, uid)
        for name, number, amount, uid in Sample.objects.using("default").values_list(
            "name", "number", "amount", "uid"
        )
    }
    assert stored == {
        "S2": (12, Decimal("1.5"), uuid.UUID(int=2)),
        "S3": (13, Decimal("1.5"), uuid.UUID(int=3)),
        "S4": (14, Decimal("1.5"), uuid.UUID(int=4)),
        "f0": (7, None, None),
        "f1": (8, None, None),
    }
    assert list(Author.objects.using("default").values_list("name", flat=True)) == [
        "a1"
    ]
    assert Book.objects.using("default").count() == 2
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name == "winidjango.src.db._backends"
    ]
    assert len(warnings) == 1
    assert "'unknowndb'" in warnings[0]
    assert "Django's own" in warnings[0]


@pytest.mark.django_db(transaction=True, databases=["default", "unknowndb"])
@pytest.mark.parametrize("operation", ["create", "update"])
def test_unknown_backend_is_atomic(operation: str) -> None:
    """A failure in the last chunk leaves nothing written, as on other backends."""
    using = "unknowndb"
    tags = [Tag(name=f"t{i}") for i in range(6)]
    if operation == "create":
        tags[-1].name = "t0"  # unique name: the last chunk fails
        with pytest.raises(IntegrityError):
            bulk_create_in_steps(Tag, tags, step=2, using=using)
        assert not Tag.objects.using("default").exists()
        return
    bulk_create_in_steps(Tag, tags, step=2, using=using)
    for i, tag in enumerate(tags):
        tag.name = f"new{i}"
    tags[-1].name = "new0"
    with pytest.raises(IntegrityError):
        bulk_update_in_steps(Tag, tags, ["name"], step=2, using=using)
    assert sorted(Tag.objects.using("default").values_list("name", flat=True)) == [
        f"t{i}" for i in range(6)
    ]


@pytest.mark.django_db(transaction=True, databases=["default", "unknowndb"])
def test_unknown_backend_writer_reads_keys_back() -> None:
    """The fallback writer's own INSERT returns each new row's key."""
    connection = connections["unknowndb"]
    with connection.cursor() as cursor:
        keys = get_writer(connection).insert_rows(
            cursor, "testapp_author", ["name"], [["a"], ["b"], ["c"]], "id"
        )
    assert keys is not None
    stored = dict(Author.objects.using("default").values_list("pk", "name"))
    assert stored == dict(zip(keys, ["a", "b", "c"], strict=True))
