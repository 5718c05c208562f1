"""Tests of winidjango.src.db.bulk on SQLite, PostgreSQL and MariaDB.

Every guarantee is checked against what the database holds afterwards. Tests
marked ``transaction=True`` see real commits and rollbacks (and may open a
second connection); the others run inside the per-test atomic block.
"""

import itertools
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import DataError, IntegrityError, connections, router, transaction
from django.db.models import F, Model, ProtectedError, RestrictedError
from django.db.models.signals import post_delete, pre_delete
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.testapp.models import (
    Article,
    Author,
    Book,
    Category,
    City,
    Country,
    Loan,
    Place,
    Restaurant,
    Review,
    Tag,
)
from winidjango.src.db.bulk import (
    BulkPartialFailureError,
    bulk_create_bulks_in_steps,
    bulk_create_in_steps,
    bulk_delete_in_steps,
    bulk_update_in_steps,
    get_differences_between_bulks,
    multi_simulate_bulk_deletion,
    simulate_bulk_deletion,
)
from winidjango.src.db.fields import get_fields
from winidjango.src.db.models import BaseModel

type Progress = Callable[[type[Model], int], None]


class InjectedError(Exception):
    """Raised by a test's signal receiver to make one chunk fail."""


class RollbackError(Exception):
    """Raised by a test to leave its own ``transaction.atomic()`` block."""


# --- helpers -----------------------------------------------------------------


def make_authors(n: int, prefix: str = "author") -> list[Author]:
    return [Author(name=f"{prefix} {i:04d}", birth_year=1900 + i) for i in range(n)]


def save_authors(n: int, prefix: str = "author") -> list[Author]:
    return Author.objects.bulk_create(make_authors(n, prefix))


def make_library(n_authors: int) -> list[Author]:
    """Saved authors with two books each, one review and one tag per book."""
    authors = save_authors(n_authors)
    books = Book.objects.bulk_create(
        [Book(title=f"{a.name} / {j}", author=a) for a in authors for j in range(2)]
    )
    Review.objects.bulk_create([Review(book=book, rating=3) for book in books])
    tag = Tag.objects.create(name="classic")
    tag.books.add(*books)
    return authors


def with_null[M: Model](obj: M, field: str) -> M:
    """Set a NOT NULL column to None, so that writing ``obj`` fails in the DB."""
    setattr(obj, field, None)
    return obj


def chunk_names(authors: list[Author], chunks: Iterable[int], step: int) -> set[str]:
    return {a.name for i in chunks for a in authors[i * step : (i + 1) * step]}


def author_names() -> set[str]:
    return set(Author.objects.values_list("name", flat=True))


SNAPSHOT_MODELS: list[type[Model]] = [
    Author,
    Book,
    Book.tags.through,
    Review,
    Loan,
    Tag,
    Category,
    Country,
    City,
    Place,
    Restaurant,
    Article,
]


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every test table, to compare "before" with "after"."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values_list())
        for model in SNAPSHOT_MODELS
    }


def visible_elsewhere(alias: str) -> dict[str, list[str]]:
    """Author names and book titles as a second, new connection sees them."""
    other = connections.create_connection(alias)
    try:
        seen = {}
        with other.cursor() as cursor:
            for model, column in ((Author, "name"), (Book, "title")):
                table = other.ops.quote_name(model._meta.db_table)
                cursor.execute(f"SELECT {column} FROM {table}")
                seen[model.__name__] = sorted(row[0] for row in cursor.fetchall())
        return seen
    finally:
        other.close()


def visible_here() -> dict[str, list[str]]:
    return {
        "Author": sorted(Author.objects.values_list("name", flat=True)),
        "Book": sorted(Book.objects.values_list("title", flat=True)),
    }


def in_callers_transaction(alias: str, work: Callable[[], None]) -> None:
    with transaction.atomic(using=alias):
        work()


@contextmanager
def failing_pre_delete(model: type[Model], pk: object) -> Iterator[None]:
    """Make deleting the ``model`` object with primary key ``pk`` raise."""

    def receiver(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        if instance.pk == pk:
            raise InjectedError(pk)

    pre_delete.connect(receiver, sender=model, weak=False)
    try:
        yield
    finally:
        pre_delete.disconnect(receiver, sender=model)


def streamed[T](items: Iterable[T]) -> Iterator[T]:
    yield from items


def same_objects(actual: Iterable[object], expected: Iterable[object]) -> bool:
    """Whether both hold the very same objects in the same order."""
    return [id(obj) for obj in actual] == [id(obj) for obj in expected]


def is_savepoint_statement(sql: str) -> bool:
    words = sql.lstrip().upper()
    return words.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO"))


# --- bulk_create_in_steps ----------------------------------------------------


@pytest.mark.parametrize("threads", [1, 4])
def test_create_returns_same_objects_in_input_order(alias: str, threads: int) -> None:
    authors = make_authors(250)
    created = bulk_create_in_steps(Author, authors, step=100, threads=threads)
    assert same_objects(created, authors)
    assert len({a.pk for a in created}) == 250
    stored = dict(Author.objects.values_list("pk", "name"))
    assert stored == {a.pk: a.name for a in authors}


def test_create_keeps_input_order_with_some_preset_pks(alias: str) -> None:
    authors = [Author(name="a"), Author(pk=10_000, name="b"), Author(name="c")]
    created = bulk_create_in_steps(Author, authors)
    assert dict(Author.objects.values_list("name", "pk"))["b"] == 10_000
    assert same_objects(created, authors)


def test_create_marks_objects_saved_on_the_alias(alias: str) -> None:
    authors = bulk_create_in_steps(Author, make_authors(30), step=10, using=alias)
    assert all(not a._state.adding and a._state.db == alias for a in authors)
    authors[0].name = "renamed"
    authors[0].save()  # an UPDATE, not a second INSERT
    assert Author.objects.count() == 30
    assert Author.objects.get(pk=authors[0].pk).name == "renamed"


def test_create_using_defaults_to_router_db_for_write(alias: str) -> None:
    assert router.db_for_write(Author) == alias
    created = bulk_create_in_steps(Author, make_authors(5))
    assert {a._state.db for a in created} == {alias}
    assert Author.objects.using(alias).count() == 5


def test_create_with_explicit_using(alias: str) -> None:
    created = bulk_create_in_steps(Author, make_authors(5), step=2, using=alias)
    assert {a._state.db for a in created} == {alias}
    assert Author.objects.using(alias).count() == 5


def test_create_natural_primary_key(alias: str) -> None:
    countries = [
        Country(code=f"{chr(65 + i)}{chr(65 + j)}", name=f"country {i}-{j}")
        for i in range(6)
        for j in range(6)
    ]
    created = bulk_create_in_steps(Country, countries, step=10, threads=3)
    assert same_objects(created, countries)
    stored = dict(Country.objects.values_list("code", "name"))
    assert stored == {c.code: c.name for c in countries}


@pytest.mark.parametrize("threads", [1, 4])
def test_create_self_fk_to_parent_of_earlier_chunk(alias: str, threads: int) -> None:
    categories: list[Category] = []
    parent = None
    for level in range(20):
        parent = Category(name=f"level {level}", parent=parent)
        categories.append(parent)
    bulk_create_in_steps(Category, categories, step=1, threads=threads)
    stored = dict(Category.objects.values_list("name", "parent__name"))
    assert stored == {f"level {i}": f"level {i - 1}" if i else None for i in range(20)}


def test_create_fk_to_parent_saved_before(alias: str) -> None:
    authors = save_authors(3)
    books = [Book(title=f"b{i}", author=authors[i % 3]) for i in range(30)]
    bulk_create_in_steps(Book, books, step=7, threads=4)
    stored = set(Book.objects.values_list("title", "author_id"))
    assert stored == {(b.title, authors[i % 3].pk) for i, b in enumerate(books)}


def test_create_sets_auto_now_fields(alias: str) -> None:
    started = timezone.now()
    articles = [Article(title=f"t{i}") for i in range(25)]
    bulk_create_in_steps(Article, articles, step=10, threads=3)
    stored = Article.objects.order_by("pk").values_list(
        "pk", "title", "created_at", "updated_at"
    )
    assert list(stored) == [
        (a.pk, a.title, a.created_at, a.updated_at) for a in articles
    ]
    assert all(a.created_at >= started and a.updated_at >= started for a in articles)


def test_create_multi_table_child_refused(alias: str) -> None:
    with pytest.raises(ValueError, match="multi-table inheritance"):
        bulk_create_in_steps(Restaurant, [Restaurant(name="r", serves_pizza=True)])
    assert not Place.objects.exists()
    assert not Restaurant.objects.exists()


ITERABLES: dict[str, Callable[[list[Author]], Iterable[Author]]] = {
    "list": list,
    "tuple": tuple,
    "generator": streamed,
    "iterator": iter,
    "chain": lambda authors: itertools.chain(authors[:10], authors[10:]),
}


@pytest.mark.parametrize("kind", ITERABLES)
def test_create_accepts_any_iterable(alias: str, kind: str) -> None:
    authors = make_authors(45)
    created = bulk_create_in_steps(Author, ITERABLES[kind](authors), step=10)
    assert same_objects(created, authors)
    assert author_names() == {a.name for a in authors}


def test_create_empty_input(alias: str) -> None:
    assert bulk_create_in_steps(Author, []) == []
    assert bulk_create_in_steps(Author, streamed([]), threads=4) == []
    assert not Author.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 4])
def test_create_failure_in_last_chunk_writes_nothing(alias: str, threads: int) -> None:
    save_authors(3, "existing")
    before = snapshot()
    authors = [*make_authors(49), with_null(Author(), "name")]
    with pytest.raises(IntegrityError):
        bulk_create_in_steps(Author, authors, step=10, threads=threads)
    assert snapshot() == before


# --- bulk_update_in_steps ----------------------------------------------------


@pytest.mark.parametrize("threads", [1, 4])
def test_update_writes_fields_and_returns_rowcount(alias: str, threads: int) -> None:
    authors = save_authors(250)
    for author in authors:
        author.name = author.name.upper()
        author.birth_year = 2000
    updated = bulk_update_in_steps(
        Author, authors, ["name", "birth_year"], step=100, threads=threads
    )
    assert updated == 250
    stored = set(Author.objects.values_list("pk", "name", "birth_year"))
    assert stored == {(a.pk, a.name, 2000) for a in authors}


def test_update_only_writes_update_fields(alias: str) -> None:
    authors = save_authors(20)
    for author in authors:
        author.name = "changed"
        author.birth_year = None
    assert bulk_update_in_steps(Author, authors, ["birth_year"], step=6) == 20
    assert author_names() == {a.name for a in make_authors(20)}
    assert set(Author.objects.values_list("birth_year", flat=True)) == {None}


def test_update_rowcount_counts_matched_rows(alias: str) -> None:
    authors = save_authors(120)
    Author.objects.filter(pk__in=[a.pk for a in authors[:5]]).delete()
    # Values unchanged: rows still count as matched (on MariaDB too).
    assert bulk_update_in_steps(Author, authors, ["name"], step=50) == 115
    assert Author.objects.count() == 115


def test_update_round_trips_values(alias: str) -> None:
    ann = Author.objects.create(name="Ann", birth_year=1950)
    bob = Author.objects.create(name="Bob", birth_year=1960)
    cy = Author.objects.create(name="Cy")
    one = Book.objects.create(title="one", author=ann, editor=bob, pages=10)
    two = Book.objects.create(title="two", author=ann)
    one.title, one.author, one.editor, one.pages = "", bob, None, -5
    two.title, two.author_id, two.editor_id = "Zoë — 北京 🐍 'quoted'", cy.pk, ann.pk
    fields = ["title", "author", "editor", "pages"]
    assert bulk_update_in_steps(Book, [one, two], fields) == 2
    stored = {
        b.pk: (b.title, b.author_id, b.editor_id, b.pages) for b in Book.objects.all()
    }
    assert stored == {
        one.pk: ("", bob.pk, None, -5),
        two.pk: ("Zoë — 北京 🐍 'quoted'", cy.pk, ann.pk, 0),
    }
    ann.name, ann.birth_year = "Änn\nnew line", None
    assert bulk_update_in_steps(Author, [ann], ["name", "birth_year"]) == 1
    assert Author.objects.values_list("name", "birth_year").get(pk=ann.pk) == (
        "Änn\nnew line",
        None,
    )


def test_update_never_truncates_long_text(backend: str) -> None:
    author = Author.objects.create(name="short")
    author.name = "x" * 101  # max_length=100
    if backend == "sqlite":  # SQLite does not enforce lengths: stored in full
        bulk_update_in_steps(Author, [author], ["name"])
        assert Author.objects.get().name == "x" * 101
        return
    with pytest.raises(DataError):
        bulk_update_in_steps(Author, [author], ["name"])
    assert Author.objects.get().name == "short"


def test_update_refreshes_auto_now_keeps_created_at(alias: str) -> None:
    Article.objects.bulk_create([Article(title=f"t{i}") for i in range(25)])
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    Article.objects.update(created_at=long_ago, updated_at=long_ago)
    articles = list(Article.objects.order_by("pk"))
    for article in articles:
        article.title += " v2"
    started = timezone.now()
    assert bulk_update_in_steps(Article, articles, ["title"], step=10) == 25
    for stored, article in zip(Article.objects.order_by("pk"), articles, strict=True):
        assert stored.title == article.title
        assert stored.created_at == long_ago
        assert stored.updated_at >= started
        assert stored.updated_at == article.updated_at


def test_update_auto_now_of_partly_loaded_objects(alias: str) -> None:
    Article.objects.bulk_create([Article(title=f"t{i}") for i in range(12)])
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    Article.objects.update(updated_at=long_ago)
    articles = list(Article.objects.only("title"))  # updated_at deferred
    for article in articles:
        article.title += " v2"
    assert bulk_update_in_steps(Article, articles, ["title"], step=5, threads=3) == 12
    assert not Article.objects.filter(updated_at=long_ago).exists()
    assert Article.objects.filter(title__endswith=" v2").count() == 12


def test_update_multi_table_child_field(alias: str) -> None:
    restaurants = [Restaurant.objects.create(name=f"r{i}") for i in range(12)]
    for restaurant in restaurants[::2]:
        restaurant.serves_pizza = True
    assert bulk_update_in_steps(Restaurant, restaurants, ["serves_pizza"], step=5) == 12
    stored = dict(Restaurant.objects.values_list("name", "serves_pizza"))
    assert stored == {f"r{i}": i % 2 == 0 for i in range(12)}
    assert Place.objects.count() == 12


def test_update_natural_primary_key_model(alias: str) -> None:
    countries = Country.objects.bulk_create(
        [Country(code=code, name=code) for code in ("FR", "DE", "IT")]
    )
    for country in countries:
        country.name = f"{country.code} renamed"
    assert bulk_update_in_steps(Country, countries, ["name"], step=2) == 3
    stored = dict(Country.objects.values_list("code", "name"))
    assert stored == {code: f"{code} renamed" for code in ("FR", "DE", "IT")}


def test_update_writes_expression_values_as_django_does(alias: str) -> None:
    # Expressions were refused before; Django's bulk_update compiles them,
    # and so does bulk_update_in_steps now (the chunk goes through Django).
    authors = save_authors(3)
    authors[2].birth_year = F("birth_year") + 1
    assert bulk_update_in_steps(Author, authors, ["birth_year"]) == 3
    stored = Author.objects.order_by("pk").values_list("birth_year", flat=True)
    assert list(stored) == [1900, 1901, 1903]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 4])
def test_update_failure_in_last_chunk_changes_nothing(alias: str, threads: int) -> None:
    authors = save_authors(50)
    before = snapshot()
    for author in authors:
        author.name += " changed"
    with_null(authors[-1], "name")
    with pytest.raises(IntegrityError):
        bulk_update_in_steps(Author, authors, ["name"], step=10, threads=threads)
    assert snapshot() == before


# --- bulk_delete_in_steps ----------------------------------------------------


def _real_delete_counts(
    alias: str, authors: list[Author]
) -> tuple[int, dict[str, int]]:
    """What ``QuerySet.delete()`` reports for ``authors``, rolled back."""
    with transaction.atomic(using=alias):
        total, counts = Author.objects.filter(pk__in=[a.pk for a in authors]).delete()
        transaction.set_rollback(True, using=alias)
    return total, {label: count for label, count in counts.items() if count}


@pytest.mark.parametrize("threads", [1, 4])
def test_delete_counts_cascades_summed_over_chunks(alias: str, threads: int) -> None:
    authors = make_library(30)
    expected = (
        210,
        {
            "testapp.Author": 30,
            "testapp.Book": 60,
            "testapp.Book_tags": 60,
            "testapp.Review": 60,
        },
    )
    assert _real_delete_counts(alias, authors) == expected
    assert bulk_delete_in_steps(Author, authors, step=7, threads=threads) == expected
    assert not Author.objects.exists()
    assert not Book.objects.exists()
    assert not Review.objects.exists()
    assert not Book.tags.through.objects.exists()
    assert Tag.objects.count() == 1


def test_delete_accepts_a_queryset(alias: str) -> None:
    save_authors(25, "keep")
    save_authors(25, "drop")
    result = bulk_delete_in_steps(
        Author, Author.objects.filter(name__startswith="drop"), step=10
    )
    assert result == (25, {"testapp.Author": 25})
    assert author_names() == {a.name for a in make_authors(25, "keep")}


def test_delete_set_null_updates_without_counting(alias: str) -> None:
    ann, bob = save_authors(2)
    book = Book.objects.create(title="edited", author=ann, editor=bob)
    assert bulk_delete_in_steps(Author, [bob]) == (1, {"testapp.Author": 1})
    book.refresh_from_db()
    assert book.editor_id is None
    assert book.author_id == ann.pk


def test_delete_multi_table_child_removes_parent_row(alias: str) -> None:
    restaurants = [Restaurant.objects.create(name=f"r{i}") for i in range(9)]
    Place.objects.create(name="plain place")
    result = bulk_delete_in_steps(Restaurant, restaurants, step=4)
    assert result == (18, {"testapp.Restaurant": 9, "testapp.Place": 9})
    assert list(Place.objects.values_list("name", flat=True)) == ["plain place"]


def test_delete_cascade_across_chunks_counted_once(alias: str) -> None:
    categories: list[Category] = []
    parent = None
    for level in range(20):
        parent = Category.objects.create(name=f"level {level}", parent=parent)
        categories.append(parent)
    # Chunk 0 cascades to every later level; later chunks find nothing left.
    result = bulk_delete_in_steps(Category, categories, step=3)
    assert result == (20, {"testapp.Category": 20})
    assert not Category.objects.exists()


def test_delete_sends_signals_per_object(alias: str) -> None:
    authors = save_authors(23)
    pks = sorted(a.pk for a in authors)
    seen: dict[str, list[int]] = {"pre": [], "post": []}

    def on_pre(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        seen["pre"].append(instance.pk)

    def on_post(sender: type[Model], instance: Model, **kwargs: Any) -> None:
        seen["post"].append(instance.pk)

    pre_delete.connect(on_pre, sender=Author)
    post_delete.connect(on_post, sender=Author)
    try:
        bulk_delete_in_steps(Author, authors, step=5)
    finally:
        pre_delete.disconnect(on_pre, sender=Author)
        post_delete.disconnect(on_post, sender=Author)
    assert sorted(seen["pre"]) == sorted(seen["post"]) == pks


def test_delete_restricted_deletes_nothing(alias: str) -> None:
    authors = make_library(6)
    loaned = Book.objects.filter(author=authors[-1]).first()
    assert loaned is not None
    Loan.objects.create(book=loaned, borrower="Zed")
    before = snapshot()
    with pytest.raises(RestrictedError):
        bulk_delete_in_steps(Author, authors, step=2)
    assert snapshot() == before


def test_delete_protected_deletes_nothing(alias: str) -> None:
    countries = Country.objects.bulk_create(
        [Country(code=code, name=code) for code in ("FR", "DE", "IT", "ES")]
    )
    City.objects.create(name="Madrid", country=countries[-1])
    before = snapshot()
    with pytest.raises(ProtectedError):
        bulk_delete_in_steps(Country, countries, step=2)
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 4])
def test_delete_failure_in_last_chunk_deletes_nothing(alias: str, threads: int) -> None:
    authors = make_library(30)
    before = snapshot()
    with (
        failing_pre_delete(Author, authors[-1].pk),
        pytest.raises(InjectedError),
    ):
        bulk_delete_in_steps(Author, authors, step=7, threads=threads)
    assert snapshot() == before


# --- bulk_create_bulks_in_steps ----------------------------------------------


def make_unsaved_library(n: int) -> tuple[list[Author], list[Book], list[Review]]:
    authors = make_authors(n)
    books = [Book(title=f"{a.name} book", author=a) for a in authors]
    reviews = [Review(book=b, rating=4, text=f"on {b.title}") for b in books]
    return authors, books, reviews


def stored_review_chain() -> set[tuple[str, str, str]]:
    return set(Review.objects.values_list("text", "book__title", "book__author__name"))


@pytest.mark.parametrize("threads", [1, 4])
def test_create_bulks_in_fk_order_whatever_dict_order(alias: str, threads: int) -> None:
    authors, books, reviews = make_unsaved_library(25)
    created = bulk_create_bulks_in_steps(
        {Review: reviews, Book: books, Author: authors}, step=4, threads=threads
    )
    assert list(created) == [Author, Book, Review]
    assert same_objects(created[Author], authors)
    assert same_objects(created[Book], books)
    assert same_objects(created[Review], reviews)
    assert stored_review_chain() == {
        (r.text, r.book.title, r.book.author.name) for r in reviews
    }
    assert all(b.author_id == b.author.pk for b in books)


def test_create_bulks_skips_parents_already_saved(alias: str) -> None:
    authors = make_authors(5)
    bulk_create_in_steps(Author, authors)
    books = [Book(title=f"{a.name} book", author=a) for a in authors]
    reviews = [Review(book=b, rating=5, text=b.title) for b in books]
    created = bulk_create_bulks_in_steps(
        {Author: authors, Book: books, Review: reviews}
    )
    assert created[Author] == []
    assert same_objects(created[Book], books)
    assert same_objects(created[Review], reviews)
    assert Author.objects.count() == 5
    assert stored_review_chain() == {(b.title, b.title, b.author.name) for b in books}


def test_create_bulks_mixed_saved_and_new_parents(alias: str) -> None:
    old = save_authors(3, "old")
    new = make_authors(3, "new")
    books = [Book(title=a.name, author=a) for a in [*old, *new]]
    created = bulk_create_bulks_in_steps({Book: books, Author: [*old, *new]}, step=2)
    assert same_objects(created[Author], new)
    assert Author.objects.count() == 6
    assert set(Book.objects.values_list("title", "author__name")) == {
        (a.name, a.name) for a in [*old, *new]
    }


def test_create_bulks_self_fk(alias: str) -> None:
    root = Category(name="root")
    child = Category(name="child", parent=root)
    grandchild = Category(name="grandchild", parent=child)
    bulk_create_bulks_in_steps({Category: [root, child, grandchild]}, step=1)
    assert dict(Category.objects.values_list("name", "parent__name")) == {
        "root": None,
        "child": "root",
        "grandchild": "child",
    }


def test_create_bulks_reports_progress_per_model(alias: str) -> None:
    authors, books, _ = make_unsaved_library(7)
    calls: list[tuple[type[Model], int]] = []
    bulk_create_bulks_in_steps(
        {Book: books, Author: authors},
        step=3,
        progress=lambda model, n: calls.append((model, n)),
    )
    assert calls == [
        (Author, 3),
        (Author, 3),
        (Author, 1),
        (Book, 3),
        (Book, 3),
        (Book, 1),
    ]


def test_create_bulks_empty(alias: str) -> None:
    assert bulk_create_bulks_in_steps({}) == {}


@pytest.mark.django_db(transaction=True)
def test_create_bulks_failure_in_last_model_writes_nothing(alias: str) -> None:
    save_authors(2, "existing")
    before = snapshot()
    authors, books, reviews = make_unsaved_library(20)
    with_null(reviews[-1], "rating")
    with pytest.raises(IntegrityError):
        bulk_create_bulks_in_steps(
            {Review: reviews, Book: books, Author: authors}, step=7, threads=4
        )
    assert snapshot() == before


# --- transactions: composing with the caller's, atomic=False -----------------


def _create(threads: int) -> None:
    bulk_create_in_steps(Author, make_authors(40, "new"), step=10, threads=threads)


def _update(threads: int) -> None:
    authors = list(Author.objects.all())
    for author in authors:
        author.name += " renamed"
    bulk_update_in_steps(Author, authors, ["name"], step=3, threads=threads)


def _delete(threads: int) -> None:
    authors = list(Author.objects.all())
    bulk_delete_in_steps(Author, authors, step=3, threads=threads)


def _create_bulks(threads: int) -> None:
    authors, books, reviews = make_unsaved_library(12)
    bulk_create_bulks_in_steps(
        {Review: reviews, Book: books, Author: authors}, step=5, threads=threads
    )


WRITES: dict[str, Callable[[int], None]] = {
    "create": _create,
    "update": _update,
    "delete": _delete,
    "create_bulks": _create_bulks,
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("write", WRITES)
def test_writes_join_callers_transaction(alias: str, write: str, threads: int) -> None:
    make_library(10)
    before, seen_before = snapshot(), visible_elsewhere(alias)
    assert seen_before == visible_here()

    def write_then_fail() -> None:
        WRITES[write](threads)
        assert snapshot() != before
        raise RollbackError

    with pytest.raises(RollbackError):
        in_callers_transaction(alias, write_then_fail)
    assert snapshot() == before
    # Committed with it, and invisible to other connections until then.
    with transaction.atomic(using=alias):
        WRITES[write](threads)
        seen_inside = visible_here()
        assert seen_inside != seen_before
        assert visible_elsewhere(alias) == seen_before
    assert visible_elsewhere(alias) == seen_inside


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_progress", [False, True])
def test_non_atomic_inside_callers_transaction_stays_in_it(
    backend: str, alias: str, with_progress: bool
) -> None:
    reported: list[int] = []
    progress: Progress | None = (
        (lambda model, n: reported.append(n)) if with_progress else None
    )

    def write_then_fail() -> None:
        bulk_create_in_steps(
            Author,
            make_authors(50),
            step=10,
            threads=4,
            atomic=False,
            progress=progress,
        )
        assert Author.objects.count() == 50
        assert visible_elsewhere(alias)["Author"] == []
        raise RollbackError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RollbackError):
            in_callers_transaction(alias, write_then_fail)
    assert not Author.objects.exists()
    if backend != "sqlite":  # SQLite never writes in parallel: nothing to warn of
        [warning] = [w for w in caught if issubclass(w.category, RuntimeWarning)]
        assert "atomic=False inside an atomic block" in str(warning.message)
        assert warning.filename == __file__  # points at the caller
    assert reported == ([10] * 5 if with_progress else [])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("failing_chunk", [4, 1])
def test_non_atomic_create_commits_chunks_alone(alias: str, failing_chunk: int) -> None:
    authors = make_authors(500)
    with_null(authors[failing_chunk * 100 + 50], "name")
    with pytest.raises(BulkPartialFailureError) as caught:
        bulk_create_in_steps(Author, authors, step=100, threads=3, atomic=False)
    committed, failed = caught.value.committed_chunks, caught.value.failed_chunks
    assert list(failed) == [failing_chunk]
    assert isinstance(failed[failing_chunk], IntegrityError)
    assert failing_chunk not in committed
    assert author_names() == chunk_names(authors, committed, 100)
    if failing_chunk == 4:  # every earlier chunk started before it
        assert committed == [0, 1, 2, 3]
    else:
        assert 0 in committed


@pytest.mark.django_db(transaction=True)
def test_non_atomic_update_commits_chunks_alone(alias: str) -> None:
    authors = save_authors(500)
    for author in authors:
        author.name += " new"
    with_null(authors[-1], "name")
    with pytest.raises(BulkPartialFailureError) as caught:
        bulk_update_in_steps(
            Author, authors, ["name"], step=100, threads=3, atomic=False
        )
    committed = caught.value.committed_chunks
    assert list(caught.value.failed_chunks) == [4]
    assert set(committed) <= {0, 1, 2, 3}
    new_names = chunk_names(authors, committed, 100)
    old_names = {
        a.name for i, a in enumerate(make_authors(500)) if i // 100 not in committed
    }
    assert author_names() == new_names | old_names


@pytest.mark.django_db(transaction=True)
def test_non_atomic_delete_commits_chunks_alone(alias: str) -> None:
    authors = save_authors(500)
    with (
        failing_pre_delete(Author, authors[450].pk),
        pytest.raises(BulkPartialFailureError) as caught,
    ):
        bulk_delete_in_steps(Author, authors, step=100, threads=3, atomic=False)
    committed = caught.value.committed_chunks
    assert list(caught.value.failed_chunks) == [4]
    assert isinstance(caught.value.failed_chunks[4], InjectedError)
    assert set(committed) <= {0, 1, 2, 3}
    kept = set(range(5)) - set(committed)
    assert author_names() == chunk_names(authors, kept, 100)


@pytest.mark.django_db(transaction=True)
def test_non_atomic_success_writes_everything(alias: str) -> None:
    authors = make_authors(230)
    created = bulk_create_in_steps(Author, authors, step=20, threads=4, atomic=False)
    assert same_objects(created, authors)
    assert dict(Author.objects.values_list("pk", "name")) == {
        a.pk: a.name for a in authors
    }
    for author in authors:
        author.birth_year = 1
    assert (
        bulk_update_in_steps(
            Author, authors, ["birth_year"], step=20, threads=4, atomic=False
        )
        == 230
    )
    assert set(Author.objects.values_list("birth_year", flat=True)) == {1}
    assert bulk_delete_in_steps(Author, authors, step=20, threads=4, atomic=False) == (
        230,
        {"testapp.Author": 230},
    )
    assert not Author.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic", [True, False])
def test_failing_input_stream(alias: str, atomic: bool) -> None:
    authors = make_authors(50)

    def source() -> Iterator[Author]:
        yield from authors[:25]
        raise InjectedError

    if atomic:
        with pytest.raises(InjectedError):
            bulk_create_in_steps(Author, source(), step=10, threads=3)
        assert not Author.objects.exists()
        return
    with pytest.raises(BulkPartialFailureError) as caught:
        bulk_create_in_steps(Author, source(), step=10, threads=3, atomic=False)
    committed, failed = caught.value.committed_chunks, caught.value.failed_chunks
    assert list(failed) == [2]
    assert isinstance(failed[2], InjectedError)
    # Chunks read before the error may or may not have started by then.
    assert set(committed) <= {0, 1}
    assert author_names() == chunk_names(authors, committed, 10)


@pytest.mark.django_db(transaction=True)
def test_default_step_spans_several_chunks(alias: str) -> None:
    authors = bulk_create_in_steps(Author, make_authors(2100))
    assert Author.objects.count() == 2100
    for author in authors:
        author.birth_year = 7
    assert bulk_update_in_steps(Author, authors, ["name", "birth_year"]) == 2100
    assert set(Author.objects.values_list("birth_year", flat=True)) == {7}
    assert bulk_delete_in_steps(Author, authors) == (2100, {"testapp.Author": 2100})


# --- refused input -----------------------------------------------------------

BAD_STEPS = [
    pytest.param(0, ValueError, r"step must be an int >= 1, got 0$", id="zero"),
    pytest.param(-1, ValueError, r"step must be an int >= 1, got -1$", id="negative"),
    pytest.param(1.5, TypeError, r"got 1\.5 \(float\)", id="float"),
    pytest.param(True, TypeError, r"got True \(bool\)", id="bool"),
]


@pytest.mark.parametrize(("step", "error", "message"), BAD_STEPS)
def test_bad_step_refused_before_any_write(
    alias: str, step: Any, error: type[Exception], message: str
) -> None:
    saved = save_authors(3)
    before = snapshot()
    for author in saved:
        author.name = "changed"
    calls: list[Callable[[], object]] = [
        lambda: bulk_create_in_steps(Author, make_authors(3, "new"), step),
        lambda: bulk_update_in_steps(Author, saved, ["name"], step),
        lambda: bulk_delete_in_steps(Author, saved, step),
        lambda: bulk_create_bulks_in_steps({Author: make_authors(3, "new")}, step),
    ]
    for call in calls:
        with pytest.raises(error, match=message):
            call()
    assert snapshot() == before


@pytest.mark.parametrize("threads", [0, -2, True, 1.5])
def test_bad_threads_refused(alias: str, threads: Any) -> None:
    with pytest.raises(ValueError, match="threads must be None or an int >= 1"):
        bulk_create_in_steps(Author, make_authors(3), threads=threads)
    assert not Author.objects.exists()


def test_non_model_classes_refused(alias: str) -> None:
    not_a_model: Any = dict
    abstract: Any = BaseModel
    with pytest.raises(TypeError, match="expected a Django model class"):
        bulk_create_in_steps(not_a_model, [])
    with pytest.raises(TypeError, match="expected a Django model class"):
        bulk_create_bulks_in_steps({not_a_model: [], Author: make_authors(2)})
    with pytest.raises(TypeError, match="BaseModel is abstract"):
        bulk_update_in_steps(abstract, [], ["created_at"])
    with pytest.raises(TypeError, match="BaseModel is abstract"):
        multi_simulate_bulk_deletion({abstract: []})
    assert not Author.objects.exists()


def test_create_refuses_object_of_another_model(alias: str) -> None:
    bulk = [*make_authors(5), Book(title="intruder"), *make_authors(5, "late")]
    message = r"Author, row 6: .* \(Book\) is not an instance of Author"
    with pytest.raises(TypeError, match=message):
        bulk_create_in_steps(Author, bulk, step=2, threads=4)
    assert not Author.objects.exists()
    assert not Book.objects.exists()


def _author_and_book_sharing_pk() -> tuple[Author, Author, Book]:
    author = Author.objects.create(name="author")
    twin = Author.objects.create(name="twin")
    book = Book.objects.create(pk=twin.pk, title="book", author=author)
    return author, twin, book


def test_update_refuses_object_of_another_model(alias: str) -> None:
    author, _, book = _author_and_book_sharing_pk()
    before = snapshot()
    author.name = "renamed"
    bulk: list[Any] = [author, book]
    with pytest.raises(TypeError, match=r"row 2: .* not an instance of Author"):
        bulk_update_in_steps(Author, bulk, ["name"])
    assert snapshot() == before


def test_delete_refuses_object_of_another_model(alias: str) -> None:
    author, _, book = _author_and_book_sharing_pk()
    before = snapshot()
    bulk: list[Any] = [author, book]
    with pytest.raises(TypeError, match=r"row 2: .* not an instance of Author"):
        bulk_delete_in_steps(Author, bulk)
    assert snapshot() == before


def test_multi_table_child_refused_in_parent_bulk(alias: str) -> None:
    restaurant = Restaurant.objects.create(name="r")
    place = Place.objects.get(pk=restaurant.pk)
    place.name = "renamed"
    bulk: list[Place] = [place, restaurant]
    with pytest.raises(TypeError, match=r"row 2: .* not an instance of Place"):
        bulk_update_in_steps(Place, bulk, ["name"])
    assert Place.objects.get().name == "r"


BAD_UPDATE_FIELDS = [
    pytest.param(Author, [], ValueError, "must name at least one field", id="empty"),
    pytest.param(
        Author,
        ["nickname"],
        ValueError,
        "Author has no field named 'nickname'",
        id="unknown",
    ),
    pytest.param(Author, ["id"], ValueError, r"Author\.id is the primary key", id="pk"),
    pytest.param(
        Country,
        ["code"],
        ValueError,
        r"Country\.code is the primary key",
        id="natural_pk",
    ),
    pytest.param(Book, ["tags"], ValueError, r"Book\.tags is a many-to-many", id="m2m"),
    pytest.param(
        Author,
        ["books"],
        ValueError,
        r"Author\.books is a many-to-many or reverse",
        id="reverse",
    ),
    pytest.param(
        Restaurant,
        ["id"],
        ValueError,
        r"Restaurant\.id is the primary key",
        id="mti_parent_key",
    ),
    pytest.param(Author, "name", TypeError, "not a string", id="string"),
]


def _one_saved_object(model: type[Model]) -> Model:
    author = Author.objects.create(name="a")
    objects: dict[type[Model], Callable[[], Model]] = {
        Author: lambda: author,
        Book: lambda: Book.objects.create(title="b", author=author),
        Country: lambda: Country.objects.create(code="FR", name="France"),
        Restaurant: lambda: Restaurant.objects.create(name="r"),
    }
    return objects[model]()


@pytest.mark.parametrize(("model", "fields", "error", "message"), BAD_UPDATE_FIELDS)
def test_bad_update_fields_refused(
    alias: str, model: type[Model], fields: Any, error: type[Exception], message: str
) -> None:
    obj = _one_saved_object(model)
    before = snapshot()
    with pytest.raises(error, match=message):
        bulk_update_in_steps(model, [obj], fields)
    assert snapshot() == before


def test_update_refuses_unsaved_objects(alias: str) -> None:
    authors = save_authors(3)
    authors[0].name = "changed"
    before = snapshot()
    message = r"Author, row 4: .* has no primary key: .* cannot be updated"
    with pytest.raises(ValueError, match=message):
        bulk_update_in_steps(Author, [*authors, Author(name="new")], ["name"])
    assert snapshot() == before


def test_delete_refuses_unsaved_objects(alias: str) -> None:
    authors = save_authors(3)
    before = snapshot()
    message = r"Author, row 4: .* has no primary key: .* cannot be deleted"
    with pytest.raises(ValueError, match=message):
        bulk_delete_in_steps(Author, [*authors, Author(name="new")])
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 4])
def test_generator_with_bad_object_in_third_chunk_writes_nothing(
    alias: str, threads: int
) -> None:
    saved = save_authors(30, "saved")
    before = snapshot()
    intruder: Any = Book(title="intruder")

    bulk = streamed([*make_authors(20), intruder, *make_authors(5, "late")])
    with pytest.raises(TypeError, match="not an instance of Author"):
        bulk_create_in_steps(Author, bulk, step=10, threads=threads)
    assert snapshot() == before

    for author in saved:
        author.name += " renamed"
    bulk = streamed([*saved[:20], intruder, *saved[20:]])
    with pytest.raises(TypeError, match="not an instance of Author"):
        bulk_update_in_steps(Author, bulk, ["name"], step=10, threads=threads)
    assert snapshot() == before

    bulk = streamed([*saved[:20], Author(name="unsaved"), *saved[20:]])
    with pytest.raises(ValueError, match="unsaved objects cannot be updated"):
        bulk_update_in_steps(Author, bulk, ["name"], step=10, threads=threads)
    assert snapshot() == before

    bulk = streamed([*saved[:20], Author(name="unsaved"), *saved[20:]])
    with pytest.raises(ValueError, match="unsaved objects cannot be deleted"):
        bulk_delete_in_steps(Author, bulk, step=10, threads=threads)
    assert snapshot() == before


# --- streaming and progress --------------------------------------------------


class PullCounter:
    """An input stream of new authors that counts how many were pulled."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pulled = 0

    def __iter__(self) -> Iterator[Author]:
        for author in make_authors(self.n):
            self.pulled += 1
            yield author


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_input_is_read_lazily(alias: str, threads: int) -> None:
    step = 10
    source = PullCounter(300)
    pulled_at_report: list[int] = []

    def progress(model: type[Model], n: int) -> None:
        pulled_at_report.append(source.pulled)

    bulk_create_in_steps(Author, source, step=step, threads=threads, progress=progress)
    assert len(pulled_at_report) == 30
    for chunk, pulled in enumerate(pulled_at_report):
        assert pulled <= (chunk + 1 + threads + 1) * step, (chunk, pulled)
    assert Author.objects.count() == 300


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_input_is_read_at_most_a_few_chunks_ahead_of_writes(
    alias: str, threads: int
) -> None:
    step = 10
    ahead: list[int] = []

    def source() -> Iterator[Author]:
        for i, author in enumerate(make_authors(300)):
            if i % step == 0:  # pulled i so far
                ahead.append(i - Author.objects.count())
            yield author

    bulk_create_in_steps(Author, source(), step=step, threads=threads)
    assert Author.objects.count() == 300
    assert max(ahead) <= (threads + 2) * step, ahead


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_progress_reports_sizes_per_chunk(alias: str, threads: int) -> None:
    calls: list[tuple[type[Model], int]] = []
    authors = make_authors(95)
    bulk_create_in_steps(
        Author,
        authors,
        step=10,
        threads=threads,
        progress=lambda model, n: calls.append((model, n)),
    )
    assert calls == [(Author, 10)] * 9 + [(Author, 5)]
    calls.clear()
    bulk_update_in_steps(
        Author,
        authors,
        ["name"],
        step=40,
        threads=threads,
        progress=lambda model, n: calls.append((model, n)),
    )
    assert calls == [(Author, 40), (Author, 40), (Author, 15)]


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_progress_reports_a_chunk_once_written(alias: str, threads: int) -> None:
    rows_at_report: list[tuple[int, int]] = []

    def progress(model: type[Model], n: int) -> None:
        rows_at_report.append((n, Author.objects.count()))

    bulk_create_in_steps(
        Author, make_authors(95), step=10, threads=threads, progress=progress
    )
    reported = 0
    for n, in_db in rows_at_report:
        reported += n
        assert in_db >= reported, rows_at_report


@pytest.mark.django_db(transaction=True)
def test_progress_non_atomic_counts_committed_rows(alias: str) -> None:
    authors = make_authors(500)
    with_null(authors[450], "name")
    reported: list[int] = []
    running = [0]
    overlapping: list[int] = []

    def progress(model: type[Model], n: int) -> None:
        # Called on the writer threads in parallel mode, one call at a time.
        running[0] += 1
        overlapping.append(running[0])
        time.sleep(0.002)
        reported.append(n)
        running[0] -= 1

    with pytest.raises(BulkPartialFailureError) as caught:
        bulk_create_in_steps(
            Author, authors, step=100, threads=3, atomic=False, progress=progress
        )
    committed = caught.value.committed_chunks
    assert reported == [100] * len(committed)
    assert Author.objects.count() == sum(reported)
    assert max(overlapping) == 1


# --- get_differences_between_bulks -------------------------------------------


def test_differences_db_rows_against_unsaved_objects(alias: str) -> None:
    Author.objects.create(name="Ann", birth_year=1950)
    Author.objects.create(name="Bob", birth_year=1960)
    Author.objects.create(name="Bob", birth_year=1961)
    old = list(Author.objects.order_by("pk"))
    new = [Author(name="Cy"), Author(name="Bob", birth_year=1960), Author(name="Ann")]
    gone, added, kept_old, kept_new = get_differences_between_bulks(
        old, new, get_fields(Author)
    )
    assert same_objects(gone, [old[0], old[2]])
    assert same_objects(added, [new[0], new[2]])
    assert same_objects(kept_old, [old[1]])
    assert same_objects(kept_new, [new[1]])


def test_differences_keep_order_and_duplicates(alias: str) -> None:
    first = [Author(name=n) for n in ("d", "a", "c", "a", "b")]
    second = [Author(name=n) for n in ("a", "e", "d")]
    gone, added, kept_first, kept_second = get_differences_between_bulks(
        streamed(first), iter(second), get_fields(Author)
    )
    assert same_objects(gone, [first[2], first[4]])
    assert same_objects(added, [second[1]])
    assert same_objects(kept_first, [first[0], first[1], first[3]])
    assert same_objects(kept_second, [second[0], second[2]])


def test_differences_compare_only_given_fields(alias: str) -> None:
    saved = Author.objects.create(name="Ann", birth_year=1950)
    fresh = Author(name="Ann", birth_year=2000)
    by_name = [Author._meta.get_field("name")]
    assert get_differences_between_bulks([saved], [fresh], by_name)[2] == [saved]
    assert get_differences_between_bulks([saved], [fresh], get_fields(Author))[0] == [
        saved
    ]


def test_differences_ignore_m2m_reverse_and_auto_now(alias: str) -> None:
    author = Author.objects.create(name="Ann")
    book = Book.objects.create(title="t", author=author, pages=3)
    book.tags.add(Tag.objects.create(name="x"))
    Review.objects.create(book=book, rating=1)
    fresh_book = Book(title="t", author=author, pages=3)
    result = get_differences_between_bulks(
        list(Book.objects.all()), [fresh_book], get_fields(Book)
    )
    assert [len(part) for part in result] == [0, 0, 1, 1]

    Article.objects.create(title="a")
    fresh_article = Article(title="a")
    article_result = get_differences_between_bulks(
        list(Article.objects.all()), [fresh_article], get_fields(Article)
    )
    assert [len(part) for part in article_result] == [0, 0, 1, 1]


def test_differences_compare_foreign_keys_by_id(alias: str) -> None:
    ann, bob = save_authors(2)
    stored = Book.objects.create(title="t", author=ann)
    by_object = Book(title="t", author=ann)
    by_id = Book(title="t", author_id=ann.pk)
    other = Book(title="t", author=bob)
    in_db = list(Book.objects.all())
    _, added, kept, kept_new = get_differences_between_bulks(
        in_db, [by_object, by_id, other], get_fields(Book)
    )
    assert same_objects(added, [other])
    assert kept == [stored]
    assert same_objects(kept_new, [by_object, by_id])


def test_differences_compare_natural_primary_keys(alias: str) -> None:
    Country.objects.create(code="FR", name="France")
    gone, added, _, _ = get_differences_between_bulks(
        list(Country.objects.all()),
        [Country(code="DE", name="France")],
        get_fields(Country),
    )
    assert [c.code for c in gone] == ["FR"]
    assert [c.code for c in added] == ["DE"]


def test_differences_multi_table_child(alias: str) -> None:
    Restaurant.objects.create(name="r1", serves_pizza=True)
    Restaurant.objects.create(name="r2")
    fresh = [
        Restaurant(name="r1", serves_pizza=True),
        Restaurant(name="r2", serves_pizza=True),
    ]
    gone, added, kept, kept_new = get_differences_between_bulks(
        list(Restaurant.objects.order_by("name")), fresh, get_fields(Restaurant)
    )
    assert [r.name for r in gone] == ["r2"]
    assert same_objects(added, [fresh[1]])
    assert [r.name for r in kept] == ["r1"]
    assert same_objects(kept_new, [fresh[0]])


def test_differences_refuse_different_models(alias: str) -> None:
    author = Author.objects.create(name="Ann")
    books: list[Any] = [Book(title="t", author=author)]
    with pytest.raises(ValueError, match="cannot compare Author objects with Book"):
        get_differences_between_bulks([author], books, get_fields(Author))
    mixed: list[Any] = [author, *books]
    with pytest.raises(ValueError, match="bulk1 mixes models"):
        get_differences_between_bulks(mixed, [author], get_fields(Author))


# --- simulate_bulk_deletion, multi_simulate_bulk_deletion --------------------


@contextmanager
def only_selects(alias: str, *, some: bool = True) -> Iterator[None]:
    """Fail unless every statement run inside is a SELECT (and, ``some``, one ran)."""
    with CaptureQueriesContext(connections[alias]) as captured:
        yield
    statements = [
        query["sql"]
        for query in captured.captured_queries
        if not is_savepoint_statement(query["sql"])
    ]
    assert statements or not some
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in statements), (
        statements
    )


def preview_counts(preview: dict[type[Model], set[Model]]) -> dict[str, int]:
    return {model._meta.label: len(objs) for model, objs in preview.items()}


def test_simulate_lists_cascades_without_writing(alias: str) -> None:
    authors = make_library(3)
    target = authors[:2]
    before = snapshot()
    with only_selects(alias):
        preview = simulate_bulk_deletion(Author, target)
    assert snapshot() == before
    assert preview[Author] == set(target)
    assert preview[Book] == set(Book.objects.filter(author__in=target))
    assert preview[Review] == set(Review.objects.filter(book__author__in=target))
    real = Author.objects.filter(pk__in=[a.pk for a in target]).delete()
    assert preview_counts(preview) == {k: v for k, v in real[1].items() if v}


def test_simulate_skips_set_null_rows(alias: str) -> None:
    ann, bob = save_authors(2)
    Book.objects.create(title="edited", author=ann, editor=bob)
    assert simulate_bulk_deletion(Author, [bob]) == {Author: {bob}}


def test_simulate_includes_multi_table_parents(alias: str) -> None:
    restaurant = Restaurant.objects.create(name="r")
    # The parent row is built from the child's own fields: no query at all.
    with only_selects(alias, some=False):
        preview = simulate_bulk_deletion(Restaurant, [restaurant])
    assert preview == {
        Restaurant: {restaurant},
        Place: {Place.objects.get(pk=restaurant.pk)},
    }
    place = Place.objects.get(pk=restaurant.pk)
    assert simulate_bulk_deletion(Place, [place]) == {
        Place: {place},
        Restaurant: {restaurant},
    }
    assert Restaurant.objects.count() == 1


def test_simulate_accepts_a_queryset(alias: str) -> None:
    save_authors(4)
    preview = simulate_bulk_deletion(Author, Author.objects.filter(birth_year__lt=1902))
    assert preview == {Author: set(Author.objects.filter(birth_year__lt=1902))}
    assert Author.objects.count() == 4


def test_simulate_protected_like_real_delete(alias: str) -> None:
    france = Country.objects.create(code="FR", name="France")
    spain = Country.objects.create(code="ES", name="Spain")
    City.objects.create(name="Paris", country=france)
    City.objects.create(name="Lyon", country=france)
    before = snapshot()
    with pytest.raises(ProtectedError) as simulated, only_selects(alias):
        simulate_bulk_deletion(Country, [france, spain])
    with pytest.raises(ProtectedError) as real:
        Country.objects.filter(pk__in=["FR", "ES"]).delete()
    assert type(simulated.value) is type(real.value)
    assert simulated.value.protected_objects == real.value.protected_objects
    assert simulated.value.args[0] == real.value.args[0]
    assert snapshot() == before


def test_simulate_restricted_like_real_delete(alias: str) -> None:
    authors = make_library(2)
    book = Book.objects.filter(author=authors[0]).first()
    assert book is not None
    Loan.objects.create(book=book, borrower="Zed")
    before = snapshot()
    for model, entries in ((Author, [authors[0]]), (Book, [book])):
        with pytest.raises(RestrictedError) as simulated, only_selects(alias):
            simulate_bulk_deletion(model, entries)
        with pytest.raises(RestrictedError) as real:
            model._default_manager.filter(pk=entries[0].pk).delete()
        assert type(simulated.value) is type(real.value)
        assert simulated.value.restricted_objects == real.value.restricted_objects
        assert simulated.value.args[0] == real.value.args[0]
    assert snapshot() == before


def test_simulate_refuses_unsaved_and_foreign_objects(alias: str) -> None:
    with pytest.raises(ValueError, match="unsaved objects cannot be deleted"):
        simulate_bulk_deletion(Author, [Author(name="new")])
    intruder: Any = Book(title="t")
    with pytest.raises(TypeError, match="not an instance of Author"):
        simulate_bulk_deletion(Author, [intruder])


def test_simulate_empty(alias: str) -> None:
    assert simulate_bulk_deletion(Author, []) == {}
    assert multi_simulate_bulk_deletion({}) == {}
    assert multi_simulate_bulk_deletion({Author: []}) == {}


def test_multi_simulate_unions_models_without_writing(alias: str) -> None:
    authors = make_library(3)
    tag = Tag.objects.get()
    other_tag = Tag.objects.create(name="other")
    before = snapshot()
    with only_selects(alias):
        preview = multi_simulate_bulk_deletion(
            {Author: [authors[0]], Tag: [tag, other_tag]}
        )
    assert snapshot() == before
    assert preview[Author] == {authors[0]}
    assert preview[Tag] == {tag, other_tag}
    assert preview[Book] == set(Book.objects.filter(author=authors[0]))
    _, by_author = Author.objects.filter(pk=authors[0].pk).delete()
    _, by_tags = Tag.objects.all().delete()
    real = {k: by_author.get(k, 0) + by_tags.get(k, 0) for k in {*by_author, *by_tags}}
    assert preview_counts(preview) == {k: v for k, v in real.items() if v}


def test_multi_simulate_protected(alias: str) -> None:
    france = Country.objects.create(code="FR", name="France")
    paris = City.objects.create(name="Paris", country=france)
    author = Author.objects.create(name="Ann")
    with pytest.raises(ProtectedError) as caught:
        multi_simulate_bulk_deletion({Author: [author], Country: [france]})
    assert caught.value.protected_objects == {paris}
    assert Country.objects.count() == 1


# --- output ------------------------------------------------------------------


def test_library_prints_nothing(alias: str, capsys: pytest.CaptureFixture[str]) -> None:
    authors = bulk_create_in_steps(Author, make_authors(30), step=7, threads=4)
    bulk_update_in_steps(Author, authors, ["name"], step=7, threads=4)
    _, books, reviews = make_unsaved_library(5)
    for book in books:
        book.author = authors[0]
    bulk_create_bulks_in_steps({Review: reviews, Book: books}, step=2, threads=4)
    get_differences_between_bulks(authors, make_authors(3), get_fields(Author))
    simulate_bulk_deletion(Author, authors)
    multi_simulate_bulk_deletion({Author: authors})
    bulk_delete_in_steps(Author, authors, step=7, threads=4)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_failed_multi_model_create_leaves_objects_unsaved_for_a_retry(
    alias: str,
) -> None:
    authors = [Author(name="kept for retry")]
    books = [Book(title="t", author=authors[0])]
    reviews = [Review(book=books[0], rating=None)]  # type: ignore[misc]
    with pytest.raises(IntegrityError):
        bulk_create_bulks_in_steps({Author: authors, Book: books, Review: reviews})
    assert authors[0].pk is None
    assert authors[0]._state.adding
    assert books[0].pk is None
    assert books[0]._state.adding
    reviews[0].rating = 3
    bulk_create_bulks_in_steps({Author: authors, Book: books, Review: reviews})
    assert Review.objects.get().book.author.name == "kept for retry"


def _saved_reviews(n: int) -> list[Review]:
    book = Book.objects.create(title="reviewed", author=Author.objects.create(name="a"))
    return Review.objects.bulk_create([Review(book=book, rating=i) for i in range(n)])


def test_delete_with_nothing_depending_is_one_delete_per_chunk(alias: str) -> None:
    reviews = _saved_reviews(25)
    with CaptureQueriesContext(connections[alias]) as queries:
        result = bulk_delete_in_steps(Review, reviews, step=10)
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert result == (25, {"testapp.Review": 25})
    assert statements.count("DELETE") == 3
    assert "SELECT" not in statements
    assert not Review.objects.exists()


def test_delete_receivers_still_hear_every_object(alias: str) -> None:
    reviews = _saved_reviews(12)
    heard: list[int] = []

    def receiver(sender: type[Model], instance: Review, **kwargs: Any) -> None:
        heard.append(instance.pk)

    pre_delete.connect(receiver, sender=Review)
    try:
        result = bulk_delete_in_steps(Review, reviews, step=5)
    finally:
        pre_delete.disconnect(receiver, sender=Review)
    assert result == (12, {"testapp.Review": 12})
    assert sorted(heard) == sorted(review.pk for review in reviews)


def test_update_leaves_the_callers_session_settings_as_they_were(
    backend: str, alias: str
) -> None:
    # PostgreSQL runs the bulk UPDATE under planner settings of its own.
    postgresql = backend == "postgresql"
    authors = save_authors(30)
    for author in authors:
        author.name = author.name.upper()
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        if postgresql:
            cursor.execute("SET LOCAL enable_nestloop = off")
        assert bulk_update_in_steps(Author, authors, ["name"], step=7) == 30
        if postgresql:
            cursor.execute(
                "SELECT current_setting('enable_seqscan'), "
                "current_setting('enable_nestloop')"
            )
            assert cursor.fetchone() == ("on", "off")
    assert Author.objects.filter(name__startswith="AUTHOR").count() == 30
