"""The threads of winidjango's bulk functions: there while working, gone after.

Helper threads are seen from inside a generator passed as the bulk: its body
runs in the caller's thread while the call's other threads are alive. Leaks
are measured as thread counts and as the server's connection count.
"""

import gc
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import IntegrityError, connections, transaction

from tests.testapp.models import Author
from winidjango.src.db.bulk import (
    BulkPartialFailureError,
    bulk_create_in_steps,
    bulk_delete_in_steps,
    bulk_update_in_steps,
)

CONNECTION_COUNT_SQL = {
    "postgresql": (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    ),
    "mysql": (
        "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE()"
    ),
}


def make_authors(n: int, prefix: str = "author") -> list[Author]:
    return [Author(name=f"{prefix} {i:04d}") for i in range(n)]


def library_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("winidjango-")]


def server_connections(alias: str) -> int | None:
    """Connections to the test database the server sees; None for SQLite."""
    connection = connections[alias]
    sql = CONNECTION_COUNT_SQL.get(connection.vendor)
    if sql is None:
        return None
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # drop the per-transaction cache
            cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(sql)
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def settles_to[T](read: Callable[[], T], expected: T, timeout: float = 5.0) -> T:
    """Read until the value is ``expected`` (servers reap sessions lazily)."""
    deadline = time.monotonic() + timeout
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def watched(
    authors: list[Author], step: int, seen: list[list[str]]
) -> Iterator[Author]:
    """Yield ``authors``, noting the library's live threads at each chunk start."""
    for i, author in enumerate(authors):
        if i % step == 0:
            seen.append(library_threads())
        yield author


def expected_prefix(backend: str, *, atomic: bool) -> str | None:
    if atomic:
        return "winidjango-prepare"
    # atomic=False writes in parallel where the database has several writers.
    return None if backend == "sqlite" else "winidjango-write"


# --- threads exist during a call ---------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic", [True, False])
def test_threads_work_during_create(backend: str, alias: str, atomic: bool) -> None:
    seen: list[list[str]] = []
    bulk = watched(make_authors(60), 10, seen)
    bulk_create_in_steps(Author, bulk, step=10, threads=4, atomic=atomic)
    assert Author.objects.count() == 60
    prefix = expected_prefix(backend, atomic=atomic)
    during = {name for names in seen for name in names}
    if prefix is None:
        assert during == set()
    else:
        assert during
        assert all(name.startswith(prefix) for name in during), during
        # The caller's thread is one of the 4 in atomic mode.
        assert max(len(names) for names in seen) <= (3 if atomic else 4)
    assert library_threads() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic", [True, False])
def test_threads_work_during_update_and_delete(
    backend: str, alias: str, atomic: bool
) -> None:
    authors = Author.objects.bulk_create(make_authors(60))
    for author in authors:
        author.name += " renamed"
    seen: list[list[str]] = []
    bulk_update_in_steps(
        Author, watched(authors, 10, seen), ["name"], step=10, threads=4, atomic=atomic
    )
    assert Author.objects.filter(name__endswith=" renamed").count() == 60
    prefix = expected_prefix(backend, atomic=atomic)
    assert bool(seen[-1]) == (prefix is not None)
    seen.clear()
    bulk_delete_in_steps(
        Author, watched(authors, 10, seen), step=10, threads=4, atomic=atomic
    )
    assert not Author.objects.exists()
    # Deleting needs the database to collect, so atomic mode does it in the
    # caller's thread alone.
    assert bool(seen[-1]) == (not atomic and prefix is not None)
    assert library_threads() == []


@pytest.mark.django_db(transaction=True)
def test_atomic_helpers_open_no_connections(alias: str) -> None:
    before = server_connections(alias)
    counts: list[int | None] = []

    def bulk() -> Iterator[Author]:
        for i, author in enumerate(make_authors(80)):
            if i % 10 == 0:
                counts.append(server_connections(alias))
            yield author

    with transaction.atomic(using=alias):
        bulk_create_in_steps(Author, bulk(), step=10, threads=4)
    assert set(counts) == {before}
    assert Author.objects.count() == 80


# --- nothing leaks -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic", [True, False])
def test_hundred_calls_leak_no_threads_or_connections(alias: str, atomic: bool) -> None:
    gc.collect()  # connections leaked by an earlier test must not close mid-test
    threads_before = threading.active_count()
    connections_before = server_connections(alias)
    for call in range(100):
        bulk_create_in_steps(
            Author, make_authors(8, f"call {call}"), step=2, threads=4, atomic=atomic
        )
    assert Author.objects.count() == 800
    assert threading.active_count() == threads_before
    assert library_threads() == []
    count = settles_to(lambda: server_connections(alias), connections_before)
    assert count == connections_before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic", [True, False])
def test_failing_calls_leak_no_threads_or_connections(alias: str, atomic: bool) -> None:
    gc.collect()
    threads_before = threading.active_count()
    connections_before = server_connections(alias)
    committed = 0
    for call in range(20):
        authors = make_authors(8, f"call {call}")
        authors[5].name = None  # type: ignore[assignment]
        expected = IntegrityError if atomic else BulkPartialFailureError
        with pytest.raises(expected) as caught:
            bulk_create_in_steps(Author, authors, step=2, threads=4, atomic=atomic)
        if isinstance(caught.value, BulkPartialFailureError):
            assert list(caught.value.failed_chunks) == [2]
            committed += 2 * len(caught.value.committed_chunks)
    assert threading.active_count() == threads_before
    assert library_threads() == []
    count = settles_to(lambda: server_connections(alias), connections_before)
    assert count == connections_before
    assert Author.objects.count() == committed
    if atomic:
        assert committed == 0
    else:  # chunks 0 and 1 of every call, and chunk 3 if it started in time
        assert committed >= 80


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 4])
def test_deferred_update_field_refused_without_a_query(
    alias: str, threads: int
) -> None:
    # Loading it on a helper thread would read outside the caller's
    # transaction, on a connection of that thread.
    Author.objects.bulk_create(make_authors(40))
    connections_before = server_connections(alias)
    authors = list(Author.objects.only("name").order_by("pk"))  # birth_year deferred
    for author in authors:
        author.name += " renamed"
    with transaction.atomic(using=alias):
        Author.objects.update(birth_year=7)
        with pytest.raises(ValueError, match=r"without 'birth_year' \(deferred\)"):
            bulk_update_in_steps(
                Author, authors, ["name", "birth_year"], step=5, threads=threads
            )
        assert set(Author.objects.values_list("birth_year", flat=True)) == {7}
    assert not Author.objects.filter(name__endswith=" renamed").exists()
    assert server_connections(alias) == connections_before
    assert library_threads() == []


@pytest.mark.django_db(transaction=True)
def test_deferred_update_field_written_once_set(alias: str) -> None:
    Author.objects.bulk_create(make_authors(40))
    authors = list(Author.objects.only("name"))
    for author in authors:
        author.birth_year = 1984  # set, so nothing needs loading
    assert (
        bulk_update_in_steps(Author, authors, ["birth_year"], step=5, threads=4) == 40
    )
    assert set(Author.objects.values_list("birth_year", flat=True)) == {1984}
