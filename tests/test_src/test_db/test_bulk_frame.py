"""bulk_create_from_frame on SQLite, PostgreSQL and MariaDB.

Every test asserts on what the database holds afterwards. The frame path must
store exactly what the instance path (``bulk_create_in_steps``) stores, and
refuse bad frames before writing anything.
"""

import datetime
import uuid
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tests.test_src.test_db.test_roundtrip import _SAMPLE, _SETTINGS, COLUMNS
from tests.testapp.models import (
    Article,
    Author,
    Book,
    Country,
    Restaurant,
    Review,
    Sample,
    Tag,
    Ticket,
)
from winidjango.src.db.bulk import (
    BulkPartialFailureError,
    bulk_create_from_frame,
    check_frame,
)
from winidjango.src.db.exceptions import BulkInputError, BulkInputTypeError

_SAMPLE_SCHEMA: dict[str, Any] = {
    "name": pl.String,
    "text": pl.String,
    "number": pl.Int64,
    "big": pl.Int64,
    "amount": pl.Decimal(precision=38, scale=4),
    "flag": pl.Boolean,
    "day": pl.Date,
    "moment": pl.Datetime("us", "UTC"),
    "clock": pl.Time,
    "uid": pl.String,
    "data": pl.Object,
}


def _sample_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    columns = {
        name: [
            str(row[name]) if name == "uid" and row[name] is not None else row[name]
            for row in rows
        ]
        for name in COLUMNS
    }
    return pl.DataFrame(
        [pl.Series(name, columns[name], dtype=_SAMPLE_SCHEMA[name]) for name in COLUMNS]
    )


def _stored_samples() -> list[dict[str, Any]]:
    return list(Sample.objects.order_by("pk").values(*COLUMNS))


# --- what is written -------------------------------------------------------


def test_frame_rows_are_written_and_counted(alias: str) -> None:
    df = pl.DataFrame({"name": ["Ann", "Bob", "Cy"], "birth_year": [1970, None, 1990]})
    assert bulk_create_from_frame(Author, df, step=2) == 3
    stored = list(Author.objects.order_by("name").values_list("name", "birth_year"))
    assert stored == [("Ann", 1970), ("Bob", None), ("Cy", 1990)]


def test_foreign_key_by_name_or_attname(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    by_attname = pl.DataFrame({"title": ["A"], "author_id": [ann.pk]})
    by_name = pl.DataFrame({"title": ["B"], "author": [ann.pk]})
    bulk_create_from_frame(Book, by_attname)
    bulk_create_from_frame(Book, by_name)
    assert sorted(ann.books.values_list("title", flat=True)) == ["A", "B"]


def test_missing_columns_get_defaults(alias: str) -> None:
    book = Book.objects.create(title="T", author=Author.objects.create(name="A"))
    bulk_create_from_frame(Review, pl.DataFrame({"book_id": [book.pk], "rating": [4]}))
    review = Review.objects.get()
    assert (review.text, review.rating) == ("", 4)
    bulk_create_from_frame(Ticket, pl.DataFrame({"status": ["open", "closed"]}))
    tickets = list(Ticket.objects.order_by("pk"))
    assert [t.priority for t in tickets] == [3, 3]
    assert [t.title for t in tickets] == ["untitled", "untitled"]
    # A callable default gives every row its own value.
    assert len({t.code for t in tickets}) == 2


def test_auto_now_fields_get_the_current_time(alias: str) -> None:
    before = timezone.now().replace(microsecond=0)
    bulk_create_from_frame(Article, pl.DataFrame({"title": ["x"]}))
    article = Article.objects.get()
    assert article.created_at >= before
    assert article.updated_at >= before


def test_natural_primary_key_from_the_frame(alias: str) -> None:
    df = pl.DataFrame({"code": ["FR", "DE"], "name": ["France", "Germany"]})
    assert bulk_create_from_frame(Country, df) == 2
    assert Country.objects.get(pk="DE").name == "Germany"


def test_explicit_auto_primary_keys_are_kept(alias: str) -> None:
    bulk_create_from_frame(Author, pl.DataFrame({"id": [41, 42], "name": ["a", "b"]}))
    assert list(Author.objects.order_by("pk").values_list("pk", flat=True)) == [41, 42]


def test_empty_frame_writes_nothing(alias: str) -> None:
    df = pl.DataFrame({"name": []}, schema={"name": pl.String})
    assert bulk_create_from_frame(Author, df) == 0
    assert not Author.objects.exists()


def test_progress_per_chunk(alias: str) -> None:
    calls: list[tuple[type[Model], int]] = []
    df = pl.DataFrame({"name": [f"a{i}" for i in range(5)]})
    bulk_create_from_frame(
        Author, df, step=2, progress=lambda model, n: calls.append((model, n))
    )
    assert calls == [(Author, 2), (Author, 2), (Author, 1)]


def test_categorical_and_null_typed_columns(alias: str) -> None:
    df = pl.DataFrame(
        {
            "name": pl.Series(["a", "b"], dtype=pl.Categorical),
            "birth_year": pl.Series([None, None], dtype=pl.Null),
        }
    )
    bulk_create_from_frame(Author, df)
    assert list(Author.objects.order_by("name").values_list("name", "birth_year")) == [
        ("a", None),
        ("b", None),
    ]


@_SETTINGS
@given(rows=st.lists(_SAMPLE, min_size=1, max_size=4))
def test_frame_values_read_back_exactly(alias: str, rows: list[dict[str, Any]]) -> None:
    Sample.objects.all().delete()
    assert bulk_create_from_frame(Sample, _sample_frame(rows), step=3) == len(rows)
    assert _stored_samples() == rows


def test_frame_and_instances_store_the_same_text(alias: str) -> None:
    # SQLite compares dates and times as text in lookups: the frame path must
    # produce exactly the text Django's own conversion produces.
    moments = [
        datetime.datetime(2013, 1, 1, 5, 0, tzinfo=datetime.UTC),
        datetime.datetime(2013, 6, 30, 23, 59, 59, 120, tzinfo=datetime.UTC),
    ]
    clocks = [datetime.time(5, 0), datetime.time(0, 0, 0, 7)]
    days = [datetime.date(999, 1, 2), datetime.date(2013, 12, 31)]
    df = pl.DataFrame(
        {
            "name": ["a", "b"],
            "moment": pl.Series(moments, dtype=pl.Datetime("us", "UTC")),
            "clock": clocks,
            "day": days,
        }
    )
    bulk_create_from_frame(Sample, df)
    for moment, clock, day in zip(moments, clocks, days, strict=True):
        assert Sample.objects.filter(moment=moment, clock=clock, day=day).count() == 1


def test_aware_datetimes_in_another_zone_are_stored_as_the_same_instant(
    alias: str,
) -> None:
    local = datetime.datetime(2013, 11, 3, 1, 30)
    df = pl.DataFrame(
        {
            "name": ["ny"],
            "moment": pl.Series([local]).dt.replace_time_zone(
                "America/New_York", ambiguous="earliest"
            ),
        }
    )
    bulk_create_from_frame(Sample, df)
    stored = Sample.objects.get().moment
    assert stored == datetime.datetime(2013, 11, 3, 5, 30, tzinfo=datetime.UTC)


def test_long_text_and_max_length_round_trip(alias: str) -> None:
    long_text = "x" * (1024 * 1024 + 3) + "é"
    df = pl.DataFrame({"name": ["é" * 20], "text": [long_text]})
    bulk_create_from_frame(Sample, df)
    assert Sample.objects.values_list("name", "text").get() == ("é" * 20, long_text)


# --- refused before any write ----------------------------------------------


def _refused(
    model: type[Model], df: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as caught:
        bulk_create_from_frame(model, df)  # type: ignore[arg-type]
    # Every refusal is a BulkInputError; one about a type also a TypeError.
    assert isinstance(caught.value, BulkInputError)
    if error is TypeError:
        assert isinstance(caught.value, BulkInputTypeError)
    assert not model._default_manager.exists()


def test_unknown_column_refused(alias: str) -> None:
    _refused(Author, pl.DataFrame({"name": ["a"], "age": [3]}), ValueError, "'age'")


def test_many_to_many_column_refused(alias: str) -> None:
    Tag.objects.create(name="t")
    df = pl.DataFrame({"title": ["a"], "author_id": [1], "tags": [1]})
    _refused(Book, df, ValueError, "many-to-many")


def test_same_field_twice_refused(alias: str) -> None:
    df = pl.DataFrame({"title": ["a"], "author": [1], "author_id": [1]})
    _refused(Book, df, ValueError, "twice")


def test_missing_required_column_refused(alias: str) -> None:
    _refused(Book, pl.DataFrame({"title": ["a"]}), ValueError, "author")


def test_wrong_column_type_refused(alias: str) -> None:
    _refused(Author, pl.DataFrame({"name": [1, 2]}), TypeError, "String")
    df = pl.DataFrame({"name": ["a"], "birth_year": ["1970"]})
    _refused(Author, df, TypeError, "integer")


def test_null_in_non_nullable_column_refused(alias: str) -> None:
    df = pl.DataFrame({"name": ["a", None, "c"]})
    _refused(Author, df, ValueError, r"row 2: null")


def test_string_over_max_length_refused_on_every_backend(alias: str) -> None:
    df = pl.DataFrame({"name": ["ok", "é" * 21]})
    _refused(Sample, df, ValueError, "row 2.*max_length=20")


def test_value_outside_choices_refused(alias: str) -> None:
    df = pl.DataFrame({"status": ["open", "pending"]})
    _refused(Ticket, df, ValueError, "row 2.*'pending' is not one of the choices")


def test_integer_outside_column_range_refused(backend: str, alias: str) -> None:
    df = pl.DataFrame({"status": ["open", "open"], "priority": [1, 40_000]})
    if backend == "sqlite":
        # Every SQLite integer column holds 64 bits; the value is kept whole.
        bulk_create_from_frame(Ticket, df)
        assert Ticket.objects.filter(priority=40_000).exists()
        Ticket.objects.all().delete()
        df = pl.DataFrame({"status": ["open"], "priority": [2**63]})
    _refused(Ticket, df, ValueError, "row 2.*range" if backend != "sqlite" else "range")


def test_decimal_that_would_be_rounded_refused(alias: str) -> None:
    amounts = pl.Series([Decimal("1.5"), Decimal("1.23456")], dtype=pl.Decimal(38, 5))
    _refused(
        Sample,
        pl.DataFrame({"name": ["a", "b"], "amount": amounts}),
        ValueError,
        "row 2.*4 decimals",
    )
    too_big = pl.Series([Decimal("123456789")], dtype=pl.Decimal(38, 0))
    _refused(
        Sample,
        pl.DataFrame({"name": ["a"], "amount": too_big}),
        ValueError,
        "digits before the point",
    )


def test_naive_datetimes_refused_with_use_tz(alias: str) -> None:
    df = pl.DataFrame({"name": ["a"], "moment": [datetime.datetime(2013, 1, 1)]})
    _refused(Sample, df, ValueError, "naive")


def test_value_the_field_refuses_names_its_row(alias: str) -> None:
    df = pl.DataFrame({"name": ["a", "b"], "uid": [str(uuid.uuid4()), "not-a-uuid"]})
    _refused(Sample, df, ValueError, "row 2")


def test_duplicate_unique_values_refused(alias: str) -> None:
    df = pl.DataFrame({"code": ["AA", "BB", "AA"], "name": ["a", "b", "c"]})
    _refused(Country, df, ValueError, r"rows 1 and 3 .* same code \('AA'\)")


def test_nulls_never_clash_in_a_unique_key(alias: str) -> None:
    codes = [None, None]
    df = pl.DataFrame({"status": ["open", "open"], "code": codes}, strict=False)
    # Ticket.code is unique with a callable default; nulls are not duplicates
    # (the field is not nullable either, which is what refuses them).
    _refused(Ticket, df, ValueError, "null")


def test_check_frame_refuses_like_the_loader_and_writes_nothing(alias: str) -> None:
    check_frame(Author, pl.DataFrame({"name": ["a"]}))
    with pytest.raises(ValueError, match="row 2: null"):
        check_frame(Author, pl.DataFrame({"name": ["a", None]}))
    with pytest.raises(TypeError, match="expected a Django model class"):
        check_frame(object, pl.DataFrame())  # type: ignore[arg-type]
    assert not Author.objects.exists()


def test_auto_now_column_refused(alias: str) -> None:
    df = pl.DataFrame(
        {"title": ["a"], "created_at": [timezone.now()]},
    )
    _refused(Article, df, ValueError, "auto_now")


def test_not_a_frame_refused(alias: str) -> None:
    _refused(Author, pl.LazyFrame({"name": ["a"]}), TypeError, "collect")
    _refused(Author, [{"name": "a"}], TypeError, "DataFrame")


def test_multi_table_child_refused(alias: str) -> None:
    df = pl.DataFrame({"name": ["a"], "serves_pizza": [True]})
    _refused(Restaurant, df, ValueError, "multi-table")


def test_bad_step_refused(alias: str) -> None:
    with pytest.raises(ValueError, match="step"):
        bulk_create_from_frame(Author, pl.DataFrame({"name": ["a"]}), step=0)


# --- transactions ------------------------------------------------------------


def _countries_clashing_in_last_chunk() -> pl.DataFrame:
    """Five countries, the last of which is in the database already ("ZZ").

    The frame itself is valid, so the database refuses the last chunk.
    """
    Country.objects.create(code="ZZ", name="there before")
    codes = ["AA", "BB", "CC", "DD", "ZZ"]
    return pl.DataFrame({"code": codes, "name": [f"n{i}" for i in range(5)]})


@pytest.mark.django_db(transaction=True)
def test_failure_in_last_chunk_writes_nothing(alias: str) -> None:
    with pytest.raises(IntegrityError):
        bulk_create_from_frame(Country, _countries_clashing_in_last_chunk(), step=2)
    assert list(Country.objects.values_list("code", flat=True)) == ["ZZ"]


@pytest.mark.django_db(transaction=True)
def test_inside_callers_atomic_rolls_back_with_it(alias: str) -> None:
    counts: list[int] = []
    with transaction.atomic(using=alias):
        bulk_create_from_frame(Author, pl.DataFrame({"name": ["a", "b"]}), step=1)
        counts.append(Author.objects.count())
        transaction.set_rollback(True, using=alias)
    assert counts == [2]
    assert not Author.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_not_atomic_keeps_committed_chunks(alias: str) -> None:
    with pytest.raises(BulkPartialFailureError) as caught:
        bulk_create_from_frame(
            Country, _countries_clashing_in_last_chunk(), step=2, atomic=False
        )
    assert caught.value.committed_chunks == [0, 1]
    assert sorted(Country.objects.values_list("code", flat=True)) == [
        "AA",
        "BB",
        "CC",
        "DD",
        "ZZ",
    ]
