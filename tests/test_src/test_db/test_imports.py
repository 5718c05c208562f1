"""The import engine (winidjango.src.db.imports), called without any command.

Every test runs on SQLite, PostgreSQL and MariaDB and asserts on what the
database holds.
"""

import datetime

import polars as pl
import pytest
from django.db import IntegrityError, transaction
from django.db.models import Q

from tests.testapp.models import Author, Book, City, Country, Review, Sample, Tag
from winidjango.src.db import imports
from winidjango.src.db.imports import (
    PK_COLUMN,
    check_deferred_constraints,
    find_missing_rows,
    key_fields,
    key_frame,
    saved_keys,
    without_saved_rows,
    write_bulks,
)


def test_write_bulks_mixes_objects_and_frames_parents_first(alias: str) -> None:
    ann = Author(name="Ann")
    books = [Book(title="Notes", author=ann), Book(title="Essays", author=ann)]
    created = write_bulks(
        {
            Review: [Review(book=books[0], rating=5)],
            Book: books,
            City: pl.DataFrame({"name": ["Paris", "Lyon"], "country_id": ["FR"] * 2}),
            Country: pl.DataFrame({"code": ["FR"], "name": ["France"]}),
            Author: [ann],
            Tag: pl.DataFrame({"name": ["poetry", "prose"]}),
        },
        using=alias,
        step=1,
    )

    # Parents come before their children, whatever the order given.
    order = list(created)
    assert order.index(Author) < order.index(Book) < order.index(Review)
    assert order.index(Country) < order.index(City)
    assert created[Tag] == 2
    assert created[City] == 2
    assert [book.author_id for book in created[Book]] == [ann.pk, ann.pk]  # type: ignore[union-attr]
    saved = Book.objects.order_by("title").values_list("title", "author__name")
    assert list(saved) == [("Essays", "Ann"), ("Notes", "Ann")]
    assert Review.objects.get().book.title == "Notes"
    assert sorted(City.objects.values_list("name", "country__name")) == [
        ("Lyon", "France"),
        ("Paris", "France"),
    ]


def test_write_bulks_skips_saved_objects(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    created = write_bulks(
        {Author: [ann, Author(name="Bob")], Book: [Book(title="A", author=ann)]},
        using=alias,
    )
    assert [author.name for author in created[Author]] == ["Bob"]  # type: ignore[union-attr]
    assert Author.objects.count() == 2


def test_write_bulks_failure_in_the_last_model_keeps_nothing(alias: str) -> None:
    # The cities point to a country nobody wrote: the database refuses them
    # (MariaDB at once, the others at the deferred check) after the authors,
    # tags and countries were written; all of it is rolled back.
    with pytest.raises(IntegrityError):
        write_bulks(
            {
                Author: [Author(name=f"A{i}") for i in range(5)],
                Tag: pl.DataFrame({"name": ["x", "y"]}),
                Country: pl.DataFrame({"code": ["FR"], "name": ["France"]}),
                City: pl.DataFrame(
                    {"name": ["Paris", "Nowhere"], "country_id": ["FR", "XX"]}
                ),
            },
            using=alias,
            step=1,
        )
    assert Author.objects.count() == Tag.objects.count() == Country.objects.count()
    assert Country.objects.count() == 0
    assert City.objects.count() == 0


def test_write_bulks_joins_the_callers_transaction(alias: str) -> None:
    with transaction.atomic(using=alias):
        write_bulks({Tag: pl.DataFrame({"name": ["a"]})}, using=alias)
        transaction.set_rollback(True, using=alias)
    assert Tag.objects.count() == 0


def test_check_deferred_constraints_names_the_dangling_row(alias: str) -> None:
    def write_dangling() -> None:
        with transaction.atomic(using=alias):
            Book.objects.using(alias).bulk_create([Book(title="Lost", author_id=999)])
            check_deferred_constraints([Book], using=alias)

    # MariaDB refuses the row at once; SQLite and PostgreSQL at the check.
    with pytest.raises(IntegrityError):
        write_dangling()
    assert Book.objects.count() == 0


def test_check_deferred_constraints_passes_good_rows(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    Book.objects.create(title="Found", author=ann)
    check_deferred_constraints([Author, Book], using=alias)


def test_key_frame_of_objects_and_frames() -> None:
    objects = [Book(title="A", author_id=1), Book(title="B")]
    from_objects = key_frame(Book, objects, ["title", "author"])
    assert from_objects.columns == ["title", "author_id"]
    assert from_objects.rows() == [("A", 1), ("B", None)]
    frame = pl.DataFrame({"author": [3], "title": ["C"], "pages": [1]})
    assert key_frame(Book, frame, ["title", "author"]).rows() == [("C", 3)]


@pytest.mark.parametrize(
    ("key", "complaint"),
    [
        (["nope"], "testapp.Book has no field 'nope'"),
        (["tags"], "testapp.Book.tags is not a column"),
        ("title", "non-empty list of field names"),
        ([], "non-empty list of field names"),
    ],
)
def test_key_fields_refuses_bad_keys(key: list[str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        key_fields(Book, key)


def test_key_frame_needs_a_column_per_key_field() -> None:
    with pytest.raises(ValueError, match="no column for key field 'author'"):
        key_frame(Book, pl.DataFrame({"title": ["A"]}), ["title", "author"])


def test_saved_keys_reads_key_columns_and_primary_keys(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    book = Book.objects.create(title="A", author=ann)
    keys = saved_keys(Book, ["title", "author"], using=alias)
    assert keys.columns == ["title", "author_id", PK_COLUMN]
    assert keys.rows() == [("A", ann.pk, book.pk)]
    empty = saved_keys(Book, ["title"], using=alias, scope=Q(title="B"))
    assert empty.is_empty()


def test_saved_keys_reads_in_chunks(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "_READ_CHUNK", 3)
    Tag.objects.bulk_create([Tag(name=f"t{i}") for i in range(10)])
    keys = saved_keys(Tag, ["name"], using=alias)
    assert sorted(keys["name"]) == [f"t{i}" for i in range(10)]


def test_without_saved_rows_leaves_out_what_the_table_has(alias: str) -> None:
    Country.objects.create(code="FR", name="France (old name)")
    frame = pl.DataFrame(
        {"code": ["DE", "FR", "IT"], "name": ["Germany", "France", "Italy"]}
    )
    new = without_saved_rows(Country, frame, key=["code"], using=alias)
    assert new.rows() == [("DE", "Germany"), ("IT", "Italy")]
    # Nothing saved yet: the frame comes back as it is.
    assert without_saved_rows(Tag, frame.select("name"), key=["name"]).height == 3


def test_without_saved_rows_matches_foreign_keys_and_datetimes(alias: str) -> None:
    moment = datetime.datetime(2013, 1, 1, 5, tzinfo=datetime.UTC)
    Sample.objects.create(name="a", moment=moment)
    frame = pl.DataFrame(
        {
            "name": ["a", "a"],
            "moment": [moment, moment + datetime.timedelta(hours=1)],
        },
        schema={"name": pl.String, "moment": pl.Datetime("us", "UTC")},
    )
    new = without_saved_rows(Sample, frame, key=["name", "moment"], using=alias)
    assert new["moment"].to_list() == [moment + datetime.timedelta(hours=1)]


def test_find_missing_rows_of_objects_and_frames(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    bob = Author.objects.create(name="Bob")
    first = Book.objects.create(title="First", author=ann)
    gone = Book.objects.create(title="Gone", author=ann)
    other = Book.objects.create(title="First", author=bob)
    objects = [Book(title="First", author=ann)]
    frame = pl.DataFrame({"title": ["First"], "author_id": [ann.pk]})

    for data in (objects, frame):
        missing = find_missing_rows(Book, data, key=["title", "author"], using=alias)
        assert missing == sorted([gone.pk, other.pk])
    # Nothing is deleted by looking.
    assert Book.objects.count() == 3
    assert first.pk not in missing


def test_find_missing_rows_stays_in_its_scope(alias: str) -> None:
    for name in ("Ann", "Anna", "Bob"):
        Author.objects.create(name=name)
    only_a = Author.objects.filter(name__startswith="A")
    data = [Author(name="Ann")]
    for scope in (only_a, Q(name__startswith="A")):
        missing = find_missing_rows(
            Author, data, key=["name"], using=alias, scope=scope
        )
        assert missing == [Author.objects.get(name="Anna").pk]
    with pytest.raises(ValueError, match=r"queryset of testapp\.Book"):
        find_missing_rows(Author, data, key=["name"], scope=Book.objects.all())


def test_find_missing_rows_with_empty_data_is_every_row(alias: str) -> None:
    tags = Tag.objects.bulk_create([Tag(name="a"), Tag(name="b")])
    empty = pl.DataFrame({"name": []}, schema={"name": pl.String})
    assert find_missing_rows(Tag, empty, key=["name"], using=alias) == sorted(
        tag.pk for tag in tags
    )
    assert find_missing_rows(Tag, [], key=["name"], using=alias) == sorted(
        tag.pk for tag in tags
    )
