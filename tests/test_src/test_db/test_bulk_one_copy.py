"""``bulk_create_in_steps`` with ``atomic=True``: one COPY per call on PostgreSQL.

The one-COPY path must write exactly what the chunk-by-chunk path writes
(values, keys in input order, related ids of objects created earlier in the
same call), keep the call all-or-nothing, and hand over to the chunk-by-chunk
path for chunks it cannot stream. The comparisons run on every backend (the
other backends take the chunk-by-chunk path both times); the statement
counts only on PostgreSQL.
"""

import gc
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import DataError, IntegrityError, connections
from django.db.models import Model, Value
from django.db.models.functions import Upper

from tests.testapp.models import Author, Category
from winidjango.src.db.bulk import bulk_create_in_steps
from winidjango.src.db.exceptions import BulkInputError


@contextmanager
def _statements(alias: str) -> Iterator[list[str]]:
    """The SQL of every statement run on ``alias`` inside the block."""
    seen: list[str] = []

    def record(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(record):
        yield seen


def _copies(statements: list[str]) -> int:
    return sum(sql.startswith("COPY ") for sql in statements)


def _categories() -> list[Category]:
    """Two chunks of parents, then children pointing at them (step 10)."""
    parents = [Category(name=f"parent {i}") for i in range(20)]
    children = [Category(name=f"child {i}", parent=parents[i % 20]) for i in range(15)]
    return [*parents, *children]


def _stored_relative(objs: list[Category]) -> list[tuple[int, str, int | None]]:
    """The rows as stored, keys counted from the first object's key."""
    first = objs[0].pk
    rows = Category.objects.order_by("pk").values_list("pk", "name", "parent_id")
    return [
        (pk - first, name, None if parent is None else parent - first)
        for pk, name, parent in rows
    ]


@pytest.mark.parametrize("return_objects", [True, False])
def test_one_copy_writes_what_the_chunked_path_writes(
    backend: str, alias: str, return_objects: bool
) -> None:
    streamed = _categories()
    with _statements(alias) as statements:
        result: list[Category] | int = (
            bulk_create_in_steps(Category, streamed, 10)
            if return_objects
            else bulk_create_in_steps(Category, streamed, 10, return_objects=False)
        )
    assert result == (streamed if return_objects else 35)
    if backend == "postgresql":
        assert _copies(statements) == 1
        # The keys drawn in one query for the whole list.
        assert sum("nextval" in sql for sql in statements) == 1
    one_copy = _stored_relative(streamed)
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()

    chunked = _categories()
    with _statements(alias) as statements:
        bulk_create_in_steps(Category, chunked, 10, atomic=False)
    if backend == "postgresql":
        assert _copies(statements) == 4  # one per chunk
    assert _stored_relative(chunked) == one_copy
    assert [obj.pk - streamed[0].pk for obj in streamed] == list(range(35))
    assert [obj.pk - chunked[0].pk for obj in chunked] == list(range(35))
    for obj in streamed:
        assert not obj._state.adding
        assert obj._state.db == alias
    assert streamed[25].parent_id == streamed[5].pk


@pytest.mark.backends("postgresql")
def test_preset_and_missing_keys_share_the_copy(alias: str) -> None:
    objs = [
        Author(pk=1_000_000 + i if i % 3 == 0 else None, name=f"a{i}")
        for i in range(25)
    ]
    with _statements(alias) as statements:
        bulk_create_in_steps(Author, objs, 10)
    assert _copies(statements) == 1
    stored = dict(Author.objects.values_list("pk", "name"))
    assert stored == {obj.pk: obj.name for obj in objs}
    drawn = [obj.pk for i, obj in enumerate(objs) if i % 3]
    assert drawn == list(range(drawn[0], drawn[0] + len(drawn)))


def test_progress_takes_the_chunked_path(backend: str, alias: str) -> None:
    # A callback may query (and must see the rows reported), which no query
    # can while a COPY is open: with progress, every chunk is its own COPY.
    calls: list[tuple[type[Model], int, int]] = []
    objs = [Author(name=f"a{i}") for i in range(25)]
    with _statements(alias) as statements:
        bulk_create_in_steps(
            Author,
            objs,
            10,
            progress=lambda model, n: calls.append((model, n, Author.objects.count())),
        )
    assert calls == [(Author, 10, 10), (Author, 10, 20), (Author, 5, 25)]
    if backend == "postgresql":
        assert _copies(statements) == 3


def test_query_in_pre_save_ends_the_copy(
    backend: str, alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    field = Author._meta.get_field("name")
    original = type(field).pre_save
    seen: list[int] = []

    def querying_pre_save(self: Any, obj: Model, add: bool) -> Any:
        if obj.name == "a15":  # type: ignore[attr-defined]
            seen.append(Author.objects.count())
        return original(self, obj, add)

    monkeypatch.setattr(type(field), "pre_save", querying_pre_save)
    objs = [Author(name=f"a{i}") for i in range(25)]
    with _statements(alias) as statements:
        bulk_create_in_steps(Author, objs, 10)
    assert seen[-1] == 10  # the first chunk, written before the query ran
    if backend == "postgresql":
        assert _copies(statements) == 3  # chunk 1 streamed, then one each
    keys = [obj.pk for obj in objs]
    assert keys == list(range(keys[0], keys[0] + 25))
    assert dict(Author.objects.values_list("pk", "name")) == {
        obj.pk: obj.name for obj in objs
    }


def _failing_last_chunk(kind: str) -> list[Author]:
    objs = [Author(name=f"a{i}", birth_year=i) for i in range(25)]
    if kind == "database":
        objs[-1].name = None  # type: ignore[assignment]  # NOT NULL: all refuse it
    else:
        objs[-1].birth_year = "not a year"
    return objs


@pytest.mark.parametrize("kind", ["database", "conversion"])
def test_failure_in_the_last_chunk_leaves_nothing(backend: str, kind: str) -> None:
    objs = _failing_last_chunk(kind)
    error: type[Exception] = BulkInputError if kind == "conversion" else IntegrityError
    with pytest.raises(error):
        bulk_create_in_steps(Author, objs, 10)
    assert Author.objects.count() == 0
    for obj in objs:
        assert obj.pk is None
        assert obj._state.adding
        assert obj._state.db is None
    # Unsaved again, so a corrected retry creates all of them.
    objs[-1].name, objs[-1].birth_year = "fixed", 1
    bulk_create_in_steps(Author, objs, 10)
    assert Author.objects.count() == 25


def test_expression_value_falls_back_keeping_keys(backend: str, alias: str) -> None:
    objs = [Author(name=f"a{i}") for i in range(25)]
    objs[12].name = Upper(Value("shout"))
    with _statements(alias) as statements:
        created = bulk_create_in_steps(Author, objs, 10)
    assert created == objs
    if backend == "postgresql":
        # Chunk 1 in the COPY; chunk 2 through Django's INSERT; chunk 3
        # through a COPY of its own, with the keys drawn for it.
        assert _copies(statements) == 2
        keys = [obj.pk for obj in objs]
        assert keys == list(range(keys[0], keys[0] + 25))
    stored = dict(Author.objects.values_list("pk", "name"))
    assert stored == {
        obj.pk: "SHOUT" if i == 12 else f"a{i}" for i, obj in enumerate(objs)
    }


def test_expression_failure_after_fallback_unsaves_all(backend: str) -> None:
    objs = [Author(name=f"a{i}", birth_year=i) for i in range(25)]
    objs[12].name = Upper(Value("shout"))
    objs[-1].birth_year = "not a year"
    with pytest.raises(BulkInputError):
        bulk_create_in_steps(Author, objs, 10)
    assert Author.objects.count() == 0
    assert all(obj.pk is None and obj._state.adding for obj in objs)


@pytest.mark.parametrize("preset", [False, True])
def test_generator_input(backend: str, alias: str, preset: bool) -> None:
    # Reading a generator runs the caller's code, which may query: no query
    # can run while a COPY is open, so a generator goes chunk by chunk.
    objs = [Author(pk=i + 1 if preset else None, name=f"a{i}") for i in range(25)]
    with _statements(alias) as statements:
        created = bulk_create_in_steps(Author, iter(objs), 10)
    assert created == objs
    if backend == "postgresql":
        assert _copies(statements) == 3
    keys = [obj.pk for obj in objs]
    assert keys == sorted(keys)
    assert dict(Author.objects.values_list("pk", "name")) == {
        obj.pk: obj.name for obj in objs
    }


def test_return_objects_false_keeps_no_objects(backend: str, alias: str) -> None:
    objs = [Author(pk=i + 1, name=f"a{i}") for i in range(25)]
    refs = [weakref.ref(obj) for obj in objs]
    with _statements(alias) as statements:
        count = bulk_create_in_steps(Author, objs, 10, return_objects=False)
    assert count == 25
    if backend == "postgresql":
        assert _copies(statements) == 1
    del objs
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert dict(Author.objects.values_list("pk", "name")) == {
        i + 1: f"a{i}" for i in range(25)
    }


@pytest.mark.backends("postgresql")
def test_preset_keys_failure_in_last_chunk(alias: str) -> None:
    objs = [Author(pk=i + 1, name=f"a{i}") for i in range(25)]
    objs[-1].name = "x" * 101
    with _statements(alias) as statements, pytest.raises(DataError):
        bulk_create_in_steps(Author, objs, 10)
    assert _copies(statements) == 1
    assert Author.objects.count() == 0
    assert all(obj._state.adding and obj._state.db is None for obj in objs)


@pytest.mark.backends("postgresql")
def test_driver_error_mid_stream_rolls_back(alias: str) -> None:
    # The driver refuses the value while the COPY is open and the stream is
    # suspended mid-way: the rollback and the next queries still run.
    objs = [Author(name=f"a{i}") for i in range(25)]
    objs[-1].name = "nul \x00 inside"
    with pytest.raises(DataError, match="NUL"):
        bulk_create_in_steps(Author, objs, 10)
    assert Author.objects.count() == 0
    assert all(obj.pk is None and obj._state.adding for obj in objs)
    assert not connections[alias].execute_wrappers
