"""Refusals of the create and update paths: what, when, and how they are reported.

Bad input raises :class:`BulkInputError` (a ``ValueError``) naming model,
field, 1-based row and value, before anything is written; type refusals raise
:class:`BulkInputTypeError`, also a ``TypeError``.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.db.models import F

from tests.testapp.models import Author, Book, Counter, Place, Restaurant, Seeded
from winidjango.src.db.bulk import (
    bulk_create_bulks_in_steps,
    bulk_create_in_steps,
    bulk_delete_in_steps,
    bulk_update_in_steps,
)
from winidjango.src.db.exceptions import (
    BulkInputError,
    BulkInputTypeError,
    BulkPartialFailureError,
)


def _streamed[T](items: list[T]) -> Iterator[T]:
    yield from items


def _names() -> list[str]:
    return list(Author.objects.order_by("pk").values_list("name", flat=True))


# --- AutoField 0 -------------------------------------------------------------


def _zero_refused(alias: str) -> bool:
    return not connections[alias].features.allows_auto_pk_0


def test_auto_key_zero_as_django(alias: str) -> None:
    authors = [Author(name="a"), Author(pk=0, name="zero"), Author(name="b")]
    if not _zero_refused(alias):
        # SQLite and PostgreSQL store 0 as a key, as Django does.
        created = bulk_create_in_steps(Author, authors, step=2)
        assert created[1].pk == 0
        assert Author.objects.get(pk=0).name == "zero"
        return
    with pytest.raises(ValueError, match="does not accept 0"):
        Author.objects.bulk_create([Author(pk=0, name="zero")])
    with pytest.raises(BulkInputError, match=r"Author\.id, row 2: 0 as the 'id'") as e:
        bulk_create_in_steps(Author, authors, step=1)
    assert (e.value.model, e.value.field, e.value.row, e.value.value) == (
        Author,
        "id",
        2,
        0,
    )
    assert not Author.objects.exists()
    assert authors[0].pk is None  # rolled back, so unsaved again


@pytest.mark.backends("mariadb")
def test_foreign_key_to_auto_key_zero_as_django(alias: str) -> None:
    author = Author.objects.create(name="a")
    books = [Book(title="ok", author=author), Book(title="zero", author_id=0)]
    assert _zero_refused(alias)
    with pytest.raises(ValueError, match="does not accept 0"):
        Book.objects.bulk_create([Book(title="zero", author_id=0)])
    with pytest.raises(BulkInputError, match=r"Book\.author, row 2:") as e:
        bulk_create_in_steps(Book, books)
    assert e.value.value == 0
    assert not Book.objects.exists()


@pytest.mark.backends("mariadb")
@pytest.mark.django_db(transaction=True)
def test_auto_key_zero_allowed_with_no_auto_value_on_zero(alias: str) -> None:
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode")
        (mode,) = cursor.fetchone()
        cursor.execute(
            "SET SESSION sql_mode = %s",
            [",".join(filter(None, [mode, "NO_AUTO_VALUE_ON_ZERO"]))],
        )

    def forget_mode() -> None:
        # Django reads the server's sql_mode once per connection.
        for holder, name in (
            (connection, "mysql_server_data"),
            (connection, "sql_mode"),
            (connection.features, "allows_auto_pk_0"),
        ):
            holder.__dict__.pop(name, None)

    forget_mode()
    try:
        assert connection.features.allows_auto_pk_0
        created = bulk_create_in_steps(Author, [Author(pk=0, name="zero")])
        assert created[0].pk == 0
        assert Author.objects.get(pk=0).name == "zero"
    finally:
        Author.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = %s", [mode])
        forget_mode()


@pytest.mark.backends("mariadb")
def test_update_with_auto_key_zero_as_django(alias: str) -> None:
    assert _zero_refused(alias)
    author = Author.objects.create(name="a")
    ghost = Author(pk=0, name="ghost")
    ghost._state.adding = False
    with pytest.raises(BulkInputError, match=r"Author\.id, row 2:"):
        bulk_update_in_steps(Author, [author, ghost], ["name"])


# --- key-only models, MTI, conversions ---------------------------------------


def test_multi_table_child_refused_as_django(alias: str) -> None:
    with pytest.raises(ValueError, match="multi-table inherited model"):
        Restaurant.objects.bulk_create([Restaurant(name="r")])
    with pytest.raises(BulkInputError, match="multi-table inheritance"):
        bulk_create_in_steps(Restaurant, [Restaurant(name="r")])
    assert not Place.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_conversion_refusal_names_field_row_and_value_and_writes_nothing(
    alias: str,
) -> None:
    authors = [Author(name=f"a{i}", birth_year=1900 + i) for i in range(25)]
    authors[22].birth_year = "soon"
    with pytest.raises(BulkInputError) as caught:
        bulk_create_in_steps(Author, _streamed(authors), step=10)
    error = caught.value
    assert (error.model, error.field, error.row, error.value) == (
        Author,
        "birth_year",
        23,
        "soon",
    )
    assert "Author.birth_year, row 23:" in str(error)
    assert "expected a number but got 'soon'" in str(error)
    assert not Author.objects.exists()
    assert all(author.pk is None for author in authors)


def test_unsaved_related_object_refused_with_row(alias: str) -> None:
    author = Author.objects.create(name="saved")
    books = [Book(title=f"b{i}", author=author) for i in range(5)]
    books[3].author = Author(name="unsaved")
    with pytest.raises(ValueError, match="unsaved related object 'author'"):
        Book.objects.bulk_create(books)
    with pytest.raises(BulkInputError, match=r"Book\.author, row 4: ") as caught:
        bulk_create_in_steps(Book, books, step=2)
    assert caught.value.field == "author"
    assert not Book.objects.exists()


# --- update refusals ---------------------------------------------------------


def test_unsaved_object_refused_in_update_and_delete_with_row(alias: str) -> None:
    saved = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(12)])
    bulk = [*saved[:11], Author(name="new"), saved[11]]
    for call in (
        lambda objs: bulk_update_in_steps(Author, objs, ["name"], step=5),
        lambda objs: bulk_delete_in_steps(Author, objs, step=5),
    ):
        for objs in (bulk, _streamed(bulk)):
            with pytest.raises(BulkInputError, match=r"Author, row 12: ") as caught:
                call(objs)
            assert caught.value.row == 12
            assert caught.value.value is bulk[11]
    assert len(_names()) == 12


def test_wrong_class_is_a_type_error_too(alias: str) -> None:
    author = Author.objects.create(name="a")
    book = Book.objects.create(title="b", author=author)
    bulk: list[Any] = [author, book]
    for call in (
        lambda: bulk_create_in_steps(Author, [Author(name="x"), book]),
        lambda: bulk_update_in_steps(Author, bulk, ["name"]),
        lambda: bulk_delete_in_steps(Author, bulk),
    ):
        with pytest.raises(BulkInputTypeError, match="row 2: ") as caught:
            call()
        assert isinstance(caught.value, TypeError)
        assert isinstance(caught.value, BulkInputError)
        assert caught.value.row == 2
    assert _names() == ["a"]


def test_deferred_update_field_refused_with_field_and_row(alias: str) -> None:
    Author.objects.bulk_create([Author(name=f"a{i}", birth_year=i) for i in range(4)])
    authors = list(Author.objects.order_by("pk"))
    authors[2] = Author.objects.only("name").get(pk=authors[2].pk)
    with pytest.raises(BulkInputError, match=r"Author\.birth_year, row 3: ") as e:
        bulk_update_in_steps(Author, authors, ["name", "birth_year"], step=2)
    assert (e.value.field, e.value.row) == ("birth_year", 3)


def test_expression_as_key_refused_as_type_error(alias: str) -> None:
    counter = Counter.objects.create(name="c", n=1)
    counter.pk = F("pk")
    with pytest.raises(BulkInputTypeError, match=r"Counter\.id, row 1: "):
        bulk_update_in_steps(Counter, [counter], ["n"])


def test_update_count_and_first_copy_across_chunks(alias: str) -> None:
    saved = Author.objects.bulk_create([Author(name=f"a{i}") for i in range(5)])
    twin = Author.objects.get(pk=saved[0].pk)
    saved[0].name = "first"
    twin.name = "second"
    # Django's bulk_update counts matched rows: a row named twice counts once.
    assert bulk_update_in_steps(Author, [*saved, twin], ["name"], step=2) == 5
    assert _names()[0] == "first"
    twin2 = Author.objects.get(pk=saved[1].pk)
    twin2.name = "streamed"
    assert (
        bulk_update_in_steps(Author, _streamed([*saved, twin2]), ["name"], step=2) == 5
    )
    assert _names()[1] == "a1"


# --- refused before the first write, even without a transaction ----------------


@pytest.mark.backends("mariadb")
@pytest.mark.django_db(transaction=True)
def test_zero_key_in_last_chunk_of_a_list_refused_before_any_write(
    alias: str,
) -> None:
    authors = [Author(name=f"a{i}") for i in range(9)] + [Author(pk=0, name="z")]
    with pytest.raises(BulkInputError, match="row 10: ") as caught:
        bulk_create_in_steps(Author, authors, step=3, atomic=False)
    assert not isinstance(caught.value, BulkPartialFailureError)
    assert not Author.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deferred_field_in_last_chunk_of_a_list_refused_before_any_write(
    alias: str,
) -> None:
    Author.objects.bulk_create([Author(name=f"a{i}") for i in range(7)])
    authors = list(Author.objects.order_by("pk"))
    authors[6] = Author.objects.only("birth_year").get(pk=authors[6].pk)
    for author in authors[:6]:
        author.name = "changed"
    with pytest.raises(BulkInputError, match=r"Author\.name, row 7: "):
        bulk_update_in_steps(Author, authors, ["name"], step=2, atomic=False)
    assert _names() == [f"a{i}" for i in range(7)]


def test_refusal_on_djangos_compiled_path_names_field_and_row(alias: str) -> None:
    # A db_default makes the insert go through Django's compiler.
    rows = [Seeded(name="a"), Seeded(name="b", seeded_strict="many")]
    with pytest.raises(BulkInputError, match=r"Seeded\.seeded_strict, row 2: ") as e:
        bulk_create_in_steps(Seeded, rows)
    assert e.value.value == "many"
    assert not Seeded.objects.exists()


def test_rows_of_a_multi_model_create_count_the_saved_objects_skipped(
    alias: str,
) -> None:
    saved = Author.objects.create(name="saved")
    authors = [saved, Author(name="new"), saved, Author(name="bad", birth_year="x")]
    with pytest.raises(BulkInputError, match=r"Author\.birth_year, row 4: ") as e:
        bulk_create_bulks_in_steps({Author: authors}, step=1)
    assert e.value.row == 4
    assert _names() == ["saved"]
