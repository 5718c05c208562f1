"""bulk_create_in_steps(return_objects=False): streamed input, bounded memory.

The library must hold no reference to the objects it wrote once their chunk
is done, so that creating millions of rows from a generator needs memory for
a few chunks only (the benchmark's ``memory`` operation measures the peak).
"""

import gc
import weakref
from collections.abc import Iterator

import pytest
from django.db import IntegrityError

from tests.testapp.models import Author, Country
from winidjango.src.db.bulk import bulk_create_in_steps


def test_returns_the_count_and_sets_keys(alias: str) -> None:
    authors = [Author(name=f"a{i}") for i in range(5)]
    assert bulk_create_in_steps(Author, authors, step=2, return_objects=False) == 5
    assert all(author.pk is not None for author in authors)
    assert Author.objects.count() == 5


def test_keeps_no_reference_to_written_objects(alias: str) -> None:
    refs: list[weakref.ref[Author]] = []

    def authors() -> Iterator[Author]:
        for i in range(3000):
            author = Author(name=f"a{i}")
            refs.append(weakref.ref(author))
            yield author

    created = bulk_create_in_steps(Author, authors(), step=500, return_objects=False)
    gc.collect()
    assert created == 3000
    assert Author.objects.count() == 3000
    assert [ref for ref in refs if ref() is not None] == []


def test_default_mode_returns_the_objects(alias: str) -> None:
    created = bulk_create_in_steps(Author, (Author(name=n) for n in "abc"), step=2)
    assert [author.name for author in created] == ["a", "b", "c"]


@pytest.mark.django_db(transaction=True)
def test_rollback_marks_objects_the_caller_kept_unsaved(alias: str) -> None:
    countries = [Country(code=c, name=c) for c in ("AA", "BB", "CC", "AA")]
    with pytest.raises(IntegrityError):
        bulk_create_in_steps(Country, countries, step=2, return_objects=False)
    assert not Country.objects.exists()
    assert all(country._state.adding for country in countries)
