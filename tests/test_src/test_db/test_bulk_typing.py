"""The bulk API's static types, checked by mypy and run as a normal test.

``uv run mypy`` fails if a return type drifts from what is asserted here; the
test run checks that the same calls work and return values of those types.
"""

from typing import assert_type

import polars as pl
from django.db.models import Model

from tests.testapp.models import Author, Book
from winidjango.src.db.bulk import (
    DEFAULT_THREADS,
    BulkPartialFailureError,
    bulk_create_bulks_in_steps,
    bulk_create_from_frame,
    bulk_create_in_steps,
    bulk_delete_in_steps,
    bulk_update_in_steps,
    get_differences_between_bulks,
    multi_simulate_bulk_deletion,
    simulate_bulk_deletion,
)
from winidjango.src.db.fields import get_fields


def _report(model: type[Model], n: int) -> None:
    assert issubclass(model, Model)
    assert n > 0


def test_streaming_and_frame_types(alias: str) -> None:
    count = bulk_create_in_steps(
        Author, (Author(name=n) for n in "ab"), step=1, return_objects=False
    )
    assert_type(count, int)
    assert count == 2
    loaded = bulk_create_from_frame(Author, pl.DataFrame({"name": ["c"]}), step=1)
    assert_type(loaded, int)
    assert loaded == 1


def test_bulk_api_types(alias: str) -> None:
    authors = bulk_create_in_steps(
        Author,
        [Author(name="Ann"), Author(name="Bob")],
        step=1,
        using=alias,
        threads=2,
        atomic=True,
        progress=_report,
    )
    assert_type(authors, list[Author])
    assert all(isinstance(author, Author) for author in authors)

    for author in authors:
        author.birth_year = 1950
    updated = bulk_update_in_steps(Author, authors, ["birth_year"], progress=_report)
    assert_type(updated, int)
    assert updated == 2

    created = bulk_create_bulks_in_steps(
        {Book: [Book(title="t", author=authors[0])]}, step=10
    )
    assert_type(created, dict[type[Model], list[Model]])
    assert list(created) == [Book]

    differences = get_differences_between_bulks(
        authors, [Author(name="Ann", birth_year=1950)], get_fields(Author)
    )
    assert_type(
        differences, tuple[list[Author], list[Author], list[Author], list[Author]]
    )
    assert [len(part) for part in differences] == [1, 0, 1, 1]

    preview = simulate_bulk_deletion(Author, authors)
    assert_type(preview, dict[type[Model], set[Model]])
    multi = multi_simulate_bulk_deletion({Author: authors})
    assert_type(multi, dict[type[Model], set[Model]])
    assert preview == multi
    assert set(preview) == {Author, Book}

    deleted = bulk_delete_in_steps(Author, authors, step=1)
    assert_type(deleted, tuple[int, dict[str, int]])
    assert deleted == (3, {"testapp.Author": 2, "testapp.Book": 1})

    assert_type(DEFAULT_THREADS, int)
    error = BulkPartialFailureError([1, 0], {2: ValueError("x")})
    assert_type(error.committed_chunks, list[int])
    assert_type(error.failed_chunks, dict[int, BaseException])
    assert error.committed_chunks == [0, 1]
