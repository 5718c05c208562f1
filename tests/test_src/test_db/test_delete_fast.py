"""Set-based cascading deletes against Django's own ``QuerySet.delete()``.

Each test builds one data set, deletes with Django inside a transaction that
is then rolled back, and deletes the same rows with ``bulk_delete_in_steps``:
the counts per model and every remaining row must be the same. A spy on the
Collector path tells which path ``bulk_delete_in_steps`` took.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Model, signals
from django.db.models.deletion import ProtectedError, RestrictedError

from tests.testapp.models import (
    Author,
    Book,
    Category,
    City,
    Country,
    Excerpt,
    Loan,
    Place,
    Restaurant,
    Review,
    Tag,
)
from winidjango.src.db._delete import DeletePlan
from winidjango.src.db.bulk import bulk_delete_in_steps

_WATCHED: list[type[Model]] = [
    Author,
    Book,
    Review,
    Loan,
    Excerpt,
    Tag,
    Book.tags.through,
    Category,
    Country,
    City,
    Place,
    Restaurant,
]


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every watched table, in key order."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values_list())
        for model in _WATCHED
    }


@pytest.fixture
def collector_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many chunks went through Django's Collector."""
    calls: list[int] = []
    original = DeletePlan._delete_collected

    def spy(self: DeletePlan[Any], chunk: list[Any]) -> tuple[int, dict[str, int]]:
        calls.append(len(chunk))
        return original(self, chunk)

    monkeypatch.setattr(DeletePlan, "_delete_collected", spy)
    return calls


def _django_delete(alias: str, model: type[Model], pks: list[Any]) -> Any:
    """What Django deletes (or raises) for ``pks``; rolled back afterwards."""
    with transaction.atomic(using=alias):
        try:
            result: Any = model._default_manager.filter(pk__in=pks).delete()
        except (ProtectedError, RestrictedError) as error:
            result = error
        state = _snapshot()
        transaction.set_rollback(True, using=alias)
    return result, state


def _winidjango_delete(model: type[Model], pks: list[Any], step: int) -> Any:
    objs = list(model._default_manager.filter(pk__in=pks).order_by("pk"))
    try:
        result: Any = bulk_delete_in_steps(model, objs, step)
    except (ProtectedError, RestrictedError) as error:
        result = error
    return result, _snapshot()


def _same_outcome(alias: str, model: type[Model], pks: list[Any], step: int = 2) -> Any:
    """Delete ``pks`` both ways; assert the same counts/error and rows."""
    before = _snapshot()
    expected, expected_state = _django_delete(alias, model, pks)
    assert _snapshot() == before
    got, state = _winidjango_delete(model, pks, step)
    if isinstance(expected, Exception):
        assert type(got) is type(expected)
        assert got.args[1] == expected.args[1]  # the same blocking objects
        assert str(got) == str(expected)
        assert state == before
    else:
        assert got == expected
        assert state == expected_state
    return got


def _library(authors: int = 4) -> list[Author]:
    """Authors with 2 books each and 2 reviews per book, tags and editors."""
    created = [Author.objects.create(name=f"a{i}") for i in range(authors)]
    tags = [Tag.objects.create(name=f"t{i}") for i in range(2)]
    for index, author in enumerate(created):
        for number in range(2):
            editor = created[(index + 1) % len(created)]
            book = Book.objects.create(
                title=f"{author.name} b{number}", author=author, editor=editor
            )
            book.tags.set(tags[: number + 1])
            for rating in range(2):
                Review.objects.create(book=book, rating=rating)
    return created


@pytest.mark.django_db
def test_three_level_cascade_with_set_null_and_m2m(
    alias: str, collector_calls: list[int]
) -> None:
    authors = _library()
    result = _same_outcome(alias, Author, [author.pk for author in authors[:3]], step=2)
    assert result[1]["testapp.Review"] == 12
    assert collector_calls == []


@pytest.mark.django_db
def test_middle_of_the_chain(alias: str, collector_calls: list[int]) -> None:
    _library()
    books = list(Book.objects.order_by("pk").values_list("pk", flat=True))
    _same_outcome(alias, Book, books[::3], step=1)
    assert collector_calls == []


@pytest.mark.django_db
def test_nothing_to_cascade_and_unknown_keys(
    alias: str, collector_calls: list[int]
) -> None:
    authors = _library(2)
    lonely = Author.objects.create(name="no books")
    objs = [lonely, authors[0]]
    assert bulk_delete_in_steps(Author, objs) == (
        1 + 1 + 2 + 4 + 3,
        {
            "testapp.Author": 2,
            "testapp.Book": 2,
            "testapp.Review": 4,
            "testapp.Book_tags": 3,
        },
    )
    # Rows already gone count nothing, as with Django.
    assert bulk_delete_in_steps(Author, objs) == (0, {})
    assert collector_calls == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("signal", "sender"),
    [
        (signals.pre_delete, Review),
        (signals.post_delete, Book),
        (signals.m2m_changed, Book.tags.through),
        (signals.pre_delete, None),
    ],
)
def test_a_connected_signal_takes_the_collector_path(
    alias: str,
    collector_calls: list[int],
    signal: signals.ModelSignal,
    sender: type[Model] | None,
) -> None:
    authors = _library()
    heard: list[Any] = []

    def receiver(**kwargs: Any) -> None:
        heard.append(kwargs.get("instance"))

    signal.connect(receiver, sender=sender, weak=False)
    try:
        _same_outcome(alias, Author, [author.pk for author in authors[:2]])
    finally:
        signal.disconnect(receiver, sender=sender)
    assert collector_calls
    if signal is not signals.m2m_changed:
        assert heard  # the receivers ran on the Collector path


@pytest.mark.django_db
def test_protect_raises_the_same_error(alias: str, collector_calls: list[int]) -> None:
    kept = Country.objects.create(code="AA", name="with cities")
    free = Country.objects.create(code="BB", name="no cities")
    City.objects.create(name="c1", country=kept)
    City.objects.create(name="c2", country=kept)
    error = _same_outcome(alias, Country, ["AA", "BB"])
    assert isinstance(error, ProtectedError)
    assert collector_calls
    collector_calls.clear()
    _same_outcome(alias, Country, [free.pk])
    assert collector_calls == []


@pytest.mark.django_db
def test_restrict_raises_the_same_error(alias: str, collector_calls: list[int]) -> None:
    authors = _library(2)
    book = Book.objects.filter(author=authors[1]).first()
    assert book is not None
    Loan.objects.create(book=book, borrower="x")
    assert isinstance(_same_outcome(alias, Author, [authors[1].pk]), RestrictedError)
    assert isinstance(_same_outcome(alias, Book, [book.pk]), RestrictedError)
    assert collector_calls
    collector_calls.clear()
    # No loan on the other author's books: the set-based path.
    _same_outcome(alias, Author, [authors[0].pk])
    assert collector_calls == []


@pytest.mark.django_db
def test_restrict_allowed_when_also_cascaded(alias: str) -> None:
    authors = _library(2)
    books = [Book.objects.filter(author=author).first() for author in authors]
    for author, book in zip(authors, books, strict=True):
        assert book is not None
        Excerpt.objects.create(author=author, book=book, text="cascaded")
    # A book alone is refused: its excerpt is not deleted with it.
    assert books[1] is not None
    assert isinstance(_same_outcome(alias, Book, [books[1].pk]), RestrictedError)
    # The author's delete reaches the excerpt through CASCADE too: allowed.
    result = _same_outcome(alias, Author, [authors[0].pk])
    assert result[1]["testapp.Excerpt"] == 1


@pytest.mark.django_db
def test_self_reference_takes_the_collector_path(
    alias: str, collector_calls: list[int]
) -> None:
    root = Category.objects.create(name="root")
    child = Category.objects.create(name="child", parent=root)
    Category.objects.create(name="grandchild", parent=child)
    Category.objects.create(name="other")
    _same_outcome(alias, Category, [root.pk])
    assert collector_calls


@pytest.mark.django_db
def test_multi_table_inheritance_takes_the_collector_path(
    alias: str, collector_calls: list[int]
) -> None:
    Restaurant.objects.create(name="r", serves_pizza=True)
    place = Place.objects.create(name="p")
    _same_outcome(alias, Place, list(Place.objects.values_list("pk", flat=True)))
    assert collector_calls
    assert place.pk is not None


@pytest.mark.django_db(transaction=True)
def test_failure_in_last_chunk_deletes_nothing(alias: str) -> None:
    authors = _library(4)
    book = Book.objects.filter(author=authors[-1]).first()
    assert book is not None
    Loan.objects.create(book=book, borrower="x")
    before = _snapshot()
    with pytest.raises(RestrictedError):
        bulk_delete_in_steps(Author, authors, step=1)
    assert _snapshot() == before


def _iterate(make: Callable[[], Iterator[Author]]) -> Iterator[Author]:
    yield from make()


@pytest.mark.django_db
def test_generator_input_on_the_set_based_path(
    alias: str, collector_calls: list[int]
) -> None:
    _library(3)
    result = bulk_delete_in_steps(
        Author, _iterate(lambda: Author.objects.order_by("pk").iterator()), step=2
    )
    assert result[1]["testapp.Author"] == 3
    assert not Review.objects.exists()
    assert collector_calls == []
