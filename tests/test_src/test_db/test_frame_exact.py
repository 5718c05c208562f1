"""Every frame value either reads back exactly or is refused before any write.

For each combination of polars dtype and field kind the frame path takes,
these tests write a frame on SQLite, PostgreSQL and MariaDB and read the rows
back through the ORM, or check that :func:`check_frame` and the write refuse
it with a :class:`BulkInputError` naming the column and the 1-based row.
What a backend can store differs (NaN, infinities, NUL characters), so some
expectations depend on the backend.
"""

import datetime
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from django.db.models import Model
from django.test import override_settings

from tests.testapp.models import Author, Country, Measure, Sample, Ticket
from winidjango.src.db.bulk import bulk_create_from_frame, check_frame
from winidjango.src.db.exceptions import BulkInputError, BulkInputTypeError


def _stored(model: type[Model], column: str) -> list[Any]:
    return list(model._default_manager.order_by("pk").values_list(column, flat=True))


def _frame(model: type[Model], column: str, series: pl.Series) -> pl.DataFrame:
    """A frame of ``series`` as ``column`` (and names, which Sample requires)."""
    columns = [series.alias(column)]
    if model is Sample:
        columns.append(pl.Series("name", [f"n{i}" for i in range(series.len())]))
    return pl.DataFrame(columns)


def _round_trip(model: type[Model], column: str, series: pl.Series) -> list[Any]:
    """Write ``series`` as the frame's column; return what reads back."""
    df = _frame(model, column, series)
    check_frame(model, df)
    assert bulk_create_from_frame(model, df, step=2) == df.height
    return _stored(model, column)


def _refusal(
    model: type[Model], df: pl.DataFrame, error: type[BulkInputError] = BulkInputError
) -> BulkInputError:
    """The error check_frame and the write raise; asserts nothing was written."""
    with pytest.raises(error) as checked:
        check_frame(model, df)
    with pytest.raises(error) as written:
        bulk_create_from_frame(model, df, step=1)
    assert str(written.value) == str(checked.value)
    assert not model._default_manager.exists()
    return written.value


def _refused_at(
    model: type[Model], column: str, series: pl.Series, row: int, match: str
) -> BulkInputError:
    """Refused at ``row`` (1-based) of ``column``, with ``match`` in the message."""
    error = _refusal(model, _frame(model, column, series))
    assert (error.model, error.field, error.row) == (model, column, row)
    assert f"row {row}:" in str(error)
    assert match in str(error)
    return error


# --- floats ------------------------------------------------------------------


def test_float32_into_float_field_is_exact(alias: str) -> None:
    series = pl.Series([0.1, -3.5, 1e38, None], dtype=pl.Float32)
    assert _round_trip(Measure, "ratio", series) == series.cast(pl.Float64).to_list()


def test_integers_into_float_field_when_every_value_is_a_double(alias: str) -> None:
    values = [0, -(2**53), 2**53, 2**62, -(2**63), 2**53 + 2]
    assert _round_trip(Measure, "ratio", pl.Series(values, dtype=pl.Int64)) == values
    Measure.objects.all().delete()
    unsigned = pl.Series([1, 2**63, 2**64 - 2**11], dtype=pl.UInt64)
    assert _round_trip(Measure, "ratio", unsigned) == unsigned.to_list()


def test_integer_a_double_would_round_is_refused(alias: str) -> None:
    series = pl.Series([1, 2**53 + 1], dtype=pl.Int64)
    error = _refused_at(Measure, "ratio", series, 2, "no exact double-precision")
    assert error.value == 2**53 + 1
    series = pl.Series([2**64 - 1], dtype=pl.UInt64)
    _refused_at(Measure, "ratio", series, 1, "would be stored as 18446744073709551616")


def test_nan_and_infinity_per_backend(backend: str, alias: str) -> None:
    nan = pl.Series([1.0, math.nan])
    inf = pl.Series([1.0, -math.inf])
    if backend == "postgresql":
        stored = _round_trip(Measure, "ratio", nan)
        assert stored[0] == 1.0
        assert math.isnan(stored[1])
    else:
        # SQLite would store NULL, MariaDB's driver refuses it.
        _refused_at(Measure, "ratio", nan, 2, "is NaN")
    Measure.objects.all().delete()
    if backend == "mariadb":
        _refused_at(Measure, "ratio", inf, 2, "is infinite")
    else:
        assert _round_trip(Measure, "ratio", inf) == [1.0, -math.inf]


# --- integers and decimals ---------------------------------------------------


def test_uint64_beyond_the_column_is_refused(backend: str, alias: str) -> None:
    series = pl.Series([1, 2**63], dtype=pl.UInt64)
    _refused_at(Sample, "big", series, 2, "outside the column's range")
    # An unsigned bigint column takes the whole UInt64 range on MariaDB only.
    top = pl.Series([0, 2**64 - 1], dtype=pl.UInt64)
    if backend == "mariadb":
        assert _round_trip(Measure, "huge", top) == [0, 2**64 - 1]
    else:
        _refused_at(Measure, "huge", top, 2, "outside the column's range")


def test_negative_into_positive_field_is_refused(alias: str) -> None:
    series = pl.Series([3, -1], dtype=pl.Int8)
    _refused_at(Measure, "tiny", series, 2, "outside the column's range [0,")


def test_decimal_with_more_places_than_the_field(alias: str) -> None:
    # Trailing zeros beyond decimal_places lose nothing and are taken.
    fits = pl.Series(
        [Decimal("1.230000"), None, Decimal("0.000000"), Decimal("-100.000000")],
        dtype=pl.Decimal(20, 6),
    )
    df = pl.DataFrame({"name": ["a", "b", "c", "d"], "amount": fits})
    bulk_create_from_frame(Sample, df)
    assert _stored(Sample, "amount") == [
        Decimal("1.2300"),
        None,
        Decimal("0.0000"),
        Decimal("-100.0000"),
    ]
    Sample.objects.all().delete()
    rounds = pl.Series(
        [Decimal("1.230000"), Decimal("1.234560")], dtype=pl.Decimal(20, 6)
    )
    df = pl.DataFrame({"name": ["a", "b"], "amount": rounds})
    error = _refusal(Sample, df)
    assert (error.field, error.row) == ("amount", 2)


def test_long_decimals_per_backend(backend: str, alias: str) -> None:
    values = [Decimal("12345678901234.5"), Decimal("12345678901234567890.0123456789")]
    series = pl.Series(values, dtype=pl.Decimal(38, 10))
    if backend == "sqlite":
        # Stored as a float there; Django reads back 15 significant digits.
        _refused_at(Measure, "precise", series, 2, "15 significant digits")
        assert _round_trip(Measure, "precise", series.head(1)) == values[:1]
    else:
        assert _round_trip(Measure, "precise", series) == values
    Measure.objects.all().delete()
    # Integers go into a decimal column whole, beyond any float's precision
    # too, where the backend keeps them.
    big = pl.Series([10**19, 2**64 - 1], dtype=pl.UInt64)
    if backend == "sqlite":
        _refused_at(Measure, "precise", big, 2, "15 significant digits")
    else:
        assert _round_trip(Measure, "precise", big) == [10**19, 2**64 - 1]


# --- text ----------------------------------------------------------------------


def test_categorical_and_enum_into_text(alias: str) -> None:
    names = pl.Series(["b", "a", "b"], dtype=pl.Categorical)
    assert _round_trip(Author, "name", names) == ["b", "a", "b"]
    statuses = pl.Series(["open", "closed"], dtype=pl.Enum(["open", "closed"]))
    assert _round_trip(Ticket, "status", statuses) == ["open", "closed"]
    Ticket.objects.all().delete()
    bad = pl.Series(["open", "pending"], dtype=pl.Enum(["open", "pending"]))
    _refused_at(Ticket, "status", bad, 2, "not one of the choices")


def test_nul_in_text_per_backend(backend: str, alias: str) -> None:
    series = pl.Series(["ok", "a\x00b"])
    if backend == "postgresql":
        _refused_at(Author, "name", series, 2, "NUL character")
    else:
        assert _round_trip(Author, "name", series) == ["ok", "a\x00b"]


# --- dates, times, durations -------------------------------------------------


def test_dates_of_every_year_python_knows(alias: str) -> None:
    days = [datetime.date(1, 1, 1), datetime.date(9999, 12, 31)]
    df = pl.DataFrame({"name": ["a", "b"], "day": days})
    bulk_create_from_frame(Sample, df)
    assert _stored(Sample, "day") == days


# Days since 1970-01-01 of 0000-12-31 and of 10000-01-01.
@pytest.mark.parametrize("day", [-719_163, 2_932_897])
def test_dates_outside_years_1_to_9999_are_refused(alias: str, day: int) -> None:
    # Polars dates reach far beyond Python's; SQLite stores them as text the
    # ORM reads back as None, PostgreSQL stores them and the ORM cannot read.
    outside = pl.Series([0, day], dtype=pl.Int32).cast(pl.Date)
    df = pl.DataFrame({"name": ["a", "b"], "day": outside})
    error = _refusal(Sample, df)
    assert (error.field, error.row) == ("day", 2)
    assert "years 1-9999" in str(error)


def test_datetimes_outside_the_years_in_utc_are_refused(alias: str) -> None:
    # 0001-01-01 00:30 at UTC+1 is still year 0 in UTC, where it is stored.
    early = pl.Series([datetime.datetime(1, 1, 1, 0, 30)]).dt.replace_time_zone(
        "Etc/GMT-1"
    )
    df = pl.DataFrame({"name": ["a"], "moment": early})
    error = _refusal(Sample, df)
    assert (error.field, error.row) == ("moment", 1)
    assert "in UTC" in str(error)
    late = pl.Series([datetime.datetime(9999, 12, 31, 23, 30)]).dt.replace_time_zone(
        "Etc/GMT+1"
    )
    _refusal(Sample, pl.DataFrame({"name": ["a"], "moment": late}))


def test_datetime_nanoseconds(alias: str) -> None:
    moments = pl.Series(
        [datetime.datetime(2020, 1, 1, 0, 0, 0, 5), datetime.datetime(2020, 1, 2)],
        dtype=pl.Datetime("ns", "UTC"),
    )
    df = pl.DataFrame({"name": ["a", "b"], "moment": moments})
    bulk_create_from_frame(Sample, df)
    assert _stored(Sample, "moment") == moments.to_list()
    Sample.objects.all().delete()
    whole = 1_577_836_800_000_000_000  # 2020-01-01 in nanoseconds
    lost = pl.Series([whole + 1, whole], dtype=pl.Int64).cast(pl.Datetime("ns", "UTC"))
    error = _refusal(Sample, pl.DataFrame({"name": ["a", "b"], "moment": lost}))
    assert (error.field, error.row) == ("moment", 1)
    assert "nanoseconds" in str(error)


def test_time_nanoseconds(alias: str) -> None:
    clocks = pl.Series([datetime.time(1, 2, 3, 4), datetime.time(23, 59, 59, 999999)])
    df = pl.DataFrame({"name": ["a", "b"], "clock": clocks})
    bulk_create_from_frame(Sample, df)
    assert _stored(Sample, "clock") == clocks.to_list()
    Sample.objects.all().delete()
    # 01:02:03.000004001: the last nanosecond has no place in the database.
    with_ns = pl.Series([3_723_000_004_000, 3_723_000_004_001], dtype=pl.Int64).cast(
        pl.Time
    )
    error = _refusal(Sample, pl.DataFrame({"name": ["a", "b"], "clock": with_ns}))
    assert (error.field, error.row) == ("clock", 2)
    assert "nanoseconds" in str(error)


@pytest.mark.parametrize("unit", ["us", "ns", "ms"])
def test_durations_read_back_exactly(alias: str, unit: str) -> None:
    spans = [
        datetime.timedelta(days=-3, microseconds=7 if unit != "ms" else 7000),
        datetime.timedelta(days=106_000_000 if unit != "ns" else 106_000),
        None,
    ]
    series = pl.Series(spans, dtype=pl.Duration(unit))  # type: ignore[arg-type]
    assert _round_trip(Measure, "span", series) == spans


def test_duration_nanoseconds_and_range_are_refused(alias: str) -> None:
    with_ns = pl.Series([1000, 1001], dtype=pl.Int64).cast(pl.Duration("ns"))
    _refused_at(Measure, "span", with_ns, 2, "nanoseconds")
    too_long = pl.Series([1, 2**62], dtype=pl.Int64).cast(pl.Duration("ms"))
    _refused_at(Measure, "span", too_long, 2, "microseconds")


def test_datetime_time_zone_must_match_use_tz(alias: str) -> None:
    naive = pl.Series([datetime.datetime(2020, 1, 1, 12)])
    aware = naive.dt.replace_time_zone("UTC")
    error = _refusal(Sample, pl.DataFrame({"name": ["a"], "moment": naive}))
    assert (error.field, error.row) == ("moment", None)
    with override_settings(USE_TZ=False):
        _refusal(Sample, pl.DataFrame({"name": ["a"], "moment": aware}))
        bulk_create_from_frame(Sample, pl.DataFrame({"name": ["a"], "moment": naive}))
        assert _stored(Sample, "moment") == naive.to_list()


# --- binary, UUID, JSON --------------------------------------------------------


def test_binary_field_takes_binary_and_refuses_text(alias: str) -> None:
    blobs = pl.Series([b"\x00\xffraw", b"", None], dtype=pl.Binary)
    stored = _round_trip(Measure, "blob", blobs)
    assert [None if value is None else bytes(value) for value in stored] == [
        b"\x00\xffraw",
        b"",
        None,
    ]
    Measure.objects.all().delete()
    # Text would be taken for base64 ("AAE=" -> b"\x00\x01") by to_python.
    error = _refusal(
        Measure, pl.DataFrame({"blob": ["AAE="]}), error=BulkInputTypeError
    )
    assert isinstance(error, TypeError)
    assert error.field == "blob"
    assert "needs Binary" in str(error)


def test_uuid_field_takes_text_only(alias: str) -> None:
    code = uuid.uuid4()
    df = pl.DataFrame({"name": ["a"], "uid": [str(code).upper()]})
    bulk_create_from_frame(Sample, df)
    assert _stored(Sample, "uid") == [code]
    Sample.objects.all().delete()
    _refusal(Sample, pl.DataFrame({"name": ["a"], "uid": [5]}), BulkInputTypeError)


def test_json_values_read_back_exactly(alias: str) -> None:
    docs: list[Any] = [{"big": 2**70, "f": 0.1, "s": "é", "l": [1, None]}, [], "x"]
    series = pl.Series(docs, dtype=pl.Object)
    df = pl.DataFrame({"name": ["a", "b", "c"], "data": series})
    bulk_create_from_frame(Sample, df)
    assert _stored(Sample, "data") == docs
    Sample.objects.all().delete()
    structs = pl.Series([{"a": 1, "b": "x"}, {"a": 2**60, "b": None}])
    df = pl.DataFrame({"name": ["a", "b"], "data": structs})
    bulk_create_from_frame(Sample, df)
    assert _stored(Sample, "data") == structs.to_list()


@pytest.mark.parametrize(
    "bad",
    [{"a": math.nan}, [math.inf], math.nan],
    ids=["nan-in-dict", "inf-in-list", "nan"],
)
def test_nan_in_json_is_refused_on_every_backend(alias: str, bad: Any) -> None:
    series = pl.Series([{"ok": 1}, bad], dtype=pl.Object)
    error = _refused_at(Sample, "data", series, 2, "not valid JSON")
    assert error.value == bad or error.value is bad


def test_nan_in_a_float_column_for_json_is_refused(alias: str) -> None:
    df = pl.DataFrame({"name": ["a", "b"], "data": [1.5, math.nan]})
    error = _refusal(Sample, df)
    assert (error.field, error.row) == ("data", 2)


def test_dates_in_json_need_an_encoder(alias: str) -> None:
    day = datetime.date(2020, 1, 2)
    series = pl.Series([{"ok": 1}, {"when": day}], dtype=pl.Object)
    df = pl.DataFrame({"name": ["a", "b"], "data": series})
    error = _refusal(Sample, df)
    assert (error.field, error.row) == ("data", 2)
    assert "not JSON serializable" in str(error)
    # Measure.doc has DjangoJSONEncoder, which writes dates as text.
    assert _round_trip(Measure, "doc", series) == [{"ok": 1}, {"when": "2020-01-02"}]


def test_json_postgresql_would_alter_per_backend(backend: str, alias: str) -> None:
    nul = pl.Series([{"a": "x"}, {"a\x00": 1}], dtype=pl.Object)
    huge = pl.Series([{"a": 1e16}, {"a": 1e300}], dtype=pl.Object)
    if backend == "postgresql":
        _refused_at(Sample, "data", nul, 2, "NUL character")
        _refused_at(Sample, "data", huge, 2, "read back as the integer")
    else:
        df = pl.DataFrame({"name": ["a", "b"], "data": nul})
        bulk_create_from_frame(Sample, df)
        assert _stored(Sample, "data") == nul.to_list()
        Sample.objects.all().delete()
        df = pl.DataFrame({"name": ["a", "b"], "data": huge})
        bulk_create_from_frame(Sample, df)
        assert _stored(Sample, "data") == huge.to_list()


def test_ip_addresses_are_checked_on_every_backend(alias: str) -> None:
    # PostgreSQL's inet column would refuse it at write time; the others
    # would store the text.
    series = pl.Series(["10.0.0.1", "10.0.0.256"])
    _refused_at(Measure, "address", series, 2, "IPv4 or IPv6")
    stored = _round_trip(Measure, "address", pl.Series(["10.0.0.1", "::1", None]))
    assert stored == ["10.0.0.1", "::1", None]


# --- errors -------------------------------------------------------------------


def test_errors_carry_model_column_row_and_value(alias: str) -> None:
    error = _refusal(Author, pl.DataFrame({"name": ["a", "b", None]}))
    assert isinstance(error, ValueError)
    assert (error.model, error.field, error.row, error.value) == (
        Author,
        "name",
        3,
        None,
    )
    assert "row 3: null" in str(error)
    error = _refusal(Author, pl.DataFrame({"name": [1]}), BulkInputTypeError)
    assert isinstance(error, TypeError)
    assert (error.model, error.field, error.row) == (Author, "name", None)
    df = pl.DataFrame({"code": ["AA", "BB", "AA"], "name": ["a", "b", "c"]})
    error = _refusal(Country, df)
    assert (error.field, error.row, error.value) == ("code", 3, "AA")
    assert "rows 1 and 3" in str(error)
    error = _refusal(Author, pl.DataFrame({"name": ["a"], "age": [1]}))
    assert (error.field, error.row) == ("age", None)


# --- a bad last row with atomic=False writes nothing --------------------------


def _last_row_bad(column: str, good: list[Any], bad: Any, dtype: Any = None) -> Any:
    def build() -> pl.DataFrame:
        values = pl.Series(column, [*good, bad], dtype=dtype)
        names = pl.Series("name", [f"n{i}" for i in range(len(good) + 1)])
        return pl.DataFrame([names, values])

    return build


_DAY = datetime.date(2020, 1, 1)
#: (model, frame with a bad last row, the backends that refuse it)
_LAST_ROW_BAD: dict[str, tuple[type[Model], Callable[[], pl.DataFrame], set[str]]] = {
    "nul-in-text": (
        Sample,
        _last_row_bad("text", ["a", "b"], "c\x00"),
        {"postgresql"},
    ),
    "nan-in-float": (
        Measure,
        _last_row_bad("ratio", [1.0, 2.0], math.nan),
        {"sqlite", "mariadb"},
    ),
    "inf-in-float": (
        Measure,
        _last_row_bad("ratio", [1.0, 2.0], math.inf),
        {"mariadb"},
    ),
    "inexact-integer-in-float": (
        Measure,
        _last_row_bad("ratio", [1, 2], 2**53 + 1, pl.Int64),
        {"sqlite", "postgresql", "mariadb"},
    ),
    "nan-in-json": (
        Sample,
        _last_row_bad("data", [{"a": 1}, [2]], {"a": math.nan}, pl.Object),
        {"sqlite", "postgresql", "mariadb"},
    ),
    "date-in-json": (
        Sample,
        _last_row_bad("data", [{"a": 1}, [2]], {"a": _DAY}, pl.Object),
        {"sqlite", "postgresql", "mariadb"},
    ),
    "nul-in-json": (
        Sample,
        _last_row_bad("data", [{"a": 1}, [2]], {"a": "\x00"}, pl.Object),
        {"postgresql"},
    ),
    "date-after-9999": (
        Sample,
        lambda: _last_row_bad("day", [_DAY, _DAY], _DAY)().with_columns(
            pl.when(pl.col("name") == "n2")
            .then(pl.lit(4_000_000).cast(pl.Date))
            .otherwise(pl.col("day"))
            .alias("day")
        ),
        {"sqlite", "postgresql", "mariadb"},
    ),
    "time-with-nanoseconds": (
        Sample,
        lambda: _last_row_bad("clock", [1000, 2000], 3001, pl.Int64)().with_columns(
            pl.col("clock").cast(pl.Time)
        ),
        {"sqlite", "postgresql", "mariadb"},
    ),
    "text-over-max-length": (
        Sample,
        lambda: pl.DataFrame({"name": ["a", "b", "x" * 21]}),
        {"sqlite", "postgresql", "mariadb"},
    ),
    "decimal-rounded": (
        Sample,
        _last_row_bad(
            "amount", [Decimal(1), Decimal(2)], Decimal("0.00001"), pl.Decimal(20, 5)
        ),
        {"sqlite", "postgresql", "mariadb"},
    ),
    "uuid-not-valid": (
        Sample,
        _last_row_bad("uid", [str(uuid.uuid4())], "not-a-uuid"),
        {"sqlite", "postgresql", "mariadb"},
    ),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("item", list(_LAST_ROW_BAD))
def test_bad_last_row_without_atomic_writes_nothing(
    backend: str, alias: str, item: str
) -> None:
    model, build, refused_on = _LAST_ROW_BAD[item]
    df = build()
    if backend not in refused_on:
        # The backend stores this value as it is: the write goes through.
        assert bulk_create_from_frame(model, df, step=1, atomic=False) == df.height
        return
    with pytest.raises(BulkInputError) as caught:
        check_frame(model, df)
    assert caught.value.row == df.height
    with pytest.raises(BulkInputError) as caught:
        bulk_create_from_frame(model, df, step=1, atomic=False)
    assert caught.value.row == df.height
    assert not model._default_manager.exists()
