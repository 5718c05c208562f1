"""Polars DataFrames written straight into a model's table, no instances built.

An import that builds one Django object per row spends most of its time in
``Model.__init__`` and in per-value conversions, only to turn the object back
into a row. :class:`FramePlan` skips the objects: it maps the frame's columns
to the model's fields, checks the whole frame against the model (column names,
types, nulls, ``max_length``, choices, integer ranges, decimal places) before
anything is written, converts whole columns at once where the database value
is a plain function of the column (text, numbers, dates and times), and hands
the backend writer plain rows. Fields without such a conversion (UUIDs, JSON,
durations, custom fields) are converted value by value with the field's own
Django methods, up front, so a value Django refuses also stops the call before
its first write.

The rule for every column dtype a field kind takes: each value reads back
through the ORM as it was in the frame, or the frame is refused here, naming
the column and the (1-based) row. So the checks know what the backend keeps
(NaN in a float column, a NUL in text) and what Python can read back (years
1-9999, microseconds), and nothing the data alone could have refused reaches
the database.
"""

import decimal
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import polars as pl
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.fields import NOT_PROVIDED

from winidjango.src.db._values import defined_by_django
from winidjango.src.db.exceptions import BulkInputError, BulkInputTypeError
from winidjango.src.db.fields import get_model_meta

#: How a column's values become database values.
_TEXT = "text"
_INTEGER = "integer"
_FLOAT = "float"
_BOOLEAN = "boolean"
_DECIMAL = "decimal"
_DATE = "date"
_DATETIME = "datetime"
_TIME = "time"
_DURATION = "duration"
_BINARY = "binary"
_UUID = "uuid"
_JSON = "json"
_TEXT_BY_DJANGO = "text-by-django"  # text the field's own methods convert
_DJANGO = "django"  # the field's own conversion, value by value

_KIND_DTYPES: dict[str, str] = {
    _TEXT: "String (Utf8), Categorical or Enum",
    _INTEGER: "an integer type",
    _FLOAT: "a float or integer type",
    _BOOLEAN: "Boolean",
    _DECIMAL: "Decimal or an integer type",
    _DATE: "Date",
    _DATETIME: "Datetime",
    _TIME: "Time",
    _DURATION: "Duration",
    _BINARY: "Binary",
    _UUID: "String",
    _TEXT_BY_DJANGO: "String (Utf8), Categorical or Enum",
}


def _value_kind(field: Any) -> str:
    """The kind of conversion ``field`` needs; see the module docstring."""
    if field.is_relation:
        return _value_kind(field.target_field)
    if not defined_by_django(field):
        return _DJANGO
    # DateTimeField is a DateField, and the auto fields are integer fields:
    # the order of these tests matters.
    checks: tuple[tuple[type, str], ...] = (
        (models.DateTimeField, _DATETIME),
        (models.DateField, _DATE),
        (models.TimeField, _TIME),
        (models.BooleanField, _BOOLEAN),
        (models.DecimalField, _DECIMAL),
        (models.FloatField, _FLOAT),
        (models.IntegerField, _INTEGER),
        (models.AutoField, _INTEGER),
        (models.CharField, _TEXT),
        (models.TextField, _TEXT),
        (models.DurationField, _DURATION),
        (models.BinaryField, _BINARY),
        (models.UUIDField, _UUID),
        (models.JSONField, _JSON),
        (models.GenericIPAddressField, _TEXT_BY_DJANGO),
        (models.FileField, _TEXT_BY_DJANGO),
        (models.FilePathField, _TEXT_BY_DJANGO),
    )
    for field_class, kind in checks:
        if isinstance(field, field_class):
            return kind
    return _DJANGO


def _is_text(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)


_DTYPE_FITS: dict[str, Callable[[pl.DataType], bool]] = {
    _TEXT: _is_text,
    _TEXT_BY_DJANGO: _is_text,
    _INTEGER: lambda d: d.is_integer(),
    _FLOAT: lambda d: d.is_float() or d.is_integer(),
    _BOOLEAN: lambda d: d == pl.Boolean,
    _DECIMAL: lambda d: isinstance(d, pl.Decimal) or d.is_integer(),
    _DATE: lambda d: d == pl.Date,
    _DATETIME: lambda d: isinstance(d, pl.Datetime),
    _TIME: lambda d: d == pl.Time,
    _DURATION: lambda d: isinstance(d, pl.Duration),
    # Text would be taken for base64 by BinaryField.to_python.
    _BINARY: lambda d: d == pl.Binary,
    _UUID: lambda d: d == pl.String,
}


#: Every integer of at most this size is exactly a double; above, only some.
_EXACT_FLOAT_INTEGER = float(2**53)
#: Backends (``connection.vendor``) whose float columns keep NaN, and
#: infinities: PostgreSQL keeps both; SQLite stores NaN as NULL; MySQLdb
#: refuses both.
_KEEPS_NAN = frozenset({"postgresql"})
_KEEPS_INFINITY = frozenset({"postgresql", "sqlite"})
#: Python's dates end at 9999; a later (or BC) date cannot be read back.
_MAX_YEAR = 9999
#: A DurationField is a bigint of microseconds where there is no interval type.
_MAX_MICROSECONDS = 2**63 - 1


#: Significant digits of a decimal that SQLite (a float) and Django's reading
#: of it (a 15-digit context) keep.
_SQLITE_DECIMAL_DIGITS = 15


def _significant(value: decimal.Decimal) -> tuple[tuple[int, ...], int]:
    """The digits of ``value`` without trailing zeros, and their exponent."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # polars decimals are finite
    if not any(digits):
        return (0,), 0  # zero, however many places it is written with
    while len(digits) > 1 and digits[-1] == 0:
        digits = digits[:-1]
        exponent += 1
    return digits, exponent


def _jsonb_problem(value: Any) -> str | None:
    """Why PostgreSQL's jsonb would refuse or alter ``value`` (parsed JSON), if so.

    jsonb has no NUL character in its strings, and keeps numbers as decimals:
    a float written in exponent form (``1e+300``) reads back as the integer
    with those digits, which is not always the same number.
    """
    problem: str | None = None
    if isinstance(value, str) and "\x00" in value:
        problem = "holds a NUL character, which PostgreSQL's jsonb cannot store"
    elif isinstance(value, float):
        exact = decimal.Decimal(repr(value))
        if exact == exact.to_integral_value() and int(exact) != value:
            problem = (
                f"holds the float {value!r}, which PostgreSQL's jsonb would read "
                f"back as the integer {int(exact)}"
            )
    elif isinstance(value, dict | list):
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        for item in items:
            problem = _jsonb_problem(item)
            if problem is not None:
                break
    return problem


def _dtype_fits(kind: str, dtype: pl.DataType) -> bool:
    if dtype == pl.Null:
        return True  # an all-null column fits any nullable field
    fits = _DTYPE_FITS.get(kind)
    return fits is None or fits(dtype)


def _true_rows(mask: pl.Series) -> list[int]:
    """The 1-based positions where ``mask`` is True (nulls count False)."""
    return (mask.fill_null(value=False).arg_true() + 1).to_list()


def _first_row(mask: pl.Series) -> int:
    """The position of the first True of a boolean series (nulls count False)."""
    return int(mask.fill_null(value=False).arg_true()[0])


def _value_at(series: pl.Series, row: int) -> Any:
    """The value at ``row``; as polars' text where Python has no such value."""
    try:
        return series[row]
    except (ValueError, OverflowError):  # a date after 9999, say
        value = series.slice(row, 1)
        try:
            return value.cast(pl.String)[0]
        except pl.exceptions.PolarsError:
            return f"{value.to_physical()[0]} ({series.dtype})"


def _sample(series: pl.Series, row: int) -> str:
    value = _value_at(series, row)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class _Column:
    """One column of the INSERT and where its values come from."""

    column: str
    #: Per-row values, as a column of the prepared frame ...
    source: str | None = None
    #: ... or one database value repeated for every row.
    constant: Any = None


class FramePlan:
    """A frame checked against a model and turned into INSERT-ready columns.

    Everything that can refuse the frame happens in ``__init__``; after it,
    :meth:`chunks` and :meth:`rows` cannot fail on the frame's content (the
    database still can, e.g. on a foreign key that points nowhere).
    """

    def __init__(
        self,
        model: type[Model],
        df: object,
        connection: BaseDatabaseWrapper,
        *,
        check_only: bool = False,
    ) -> None:
        """Check ``df`` against ``model`` and prepare its database values.

        ``check_only`` skips the conversions that cannot fail (text formatting
        of dates and times), for a check ahead of the real call.
        """
        if not isinstance(df, pl.DataFrame):
            hint = " (call .collect() first)" if isinstance(df, pl.LazyFrame) else ""
            message = (
                f"expected a polars DataFrame for {model.__name__}, got "
                f"{type(df).__name__}{hint}"
            )
            raise BulkInputTypeError(message, model=model, value=type(df).__name__)
        self.model = model
        self.connection = connection
        self.height = df.height
        self._check_only = check_only
        meta = get_model_meta(model)
        concrete = meta.concrete_model
        if concrete is not None and get_model_meta(concrete).parents:
            message = (
                f"{model.__name__} uses multi-table inheritance; its rows span "
                "several tables and cannot be loaded from one frame"
            )
            raise BulkInputError(message, model=model)
        self.table = meta.db_table
        given = self._map_columns(df)
        self._columns: list[_Column] = []
        # Converted columns; a row count column keeps the frame's height even
        # when every INSERT column is a constant.
        self._prepared: list[pl.Series] = [
            pl.repeat(None, df.height, dtype=pl.Null, eager=True).alias("")
        ]
        field: Any
        for field in meta.concrete_fields:
            if getattr(field, "generated", False):
                continue
            if field.name in given:
                series = given[field.name]
                self._check_values(field, series)
                converted = self._convert(field, series)
                self._prepared.append(converted.alias(field.attname))
                self._columns.append(_Column(field.column, source=field.attname))
            else:
                column = self._missing(field)
                if column is not None:
                    self._columns.append(column)
        self._check_unique(given)
        self._frame = pl.DataFrame(self._prepared)
        self._prepared.clear()

    @property
    def columns(self) -> list[str]:
        """The table's columns the INSERT sets, in row order."""
        return [column.column for column in self._columns]

    def chunks(self, step: int) -> Iterator[pl.DataFrame]:
        """The prepared frame in slices of ``step`` rows (no copies)."""
        return self._frame.iter_slices(step)

    def sources(self) -> tuple[pl.DataFrame, list[tuple[str, str | None, Any]]]:
        """The prepared frame and, per INSERT column, where its values come from.

        ``(column, frame column, None)`` for per-row values, ``(column, None,
        value)`` for one database value shared by every row; for a writer
        that loads the whole frame at once instead of row tuples.
        """
        return self._frame, [
            (column.column, column.source, column.constant) for column in self._columns
        ]

    def rows(self, chunk: pl.DataFrame) -> list[tuple[Any, ...]]:
        """One tuple of database values per row of ``chunk``."""
        sources: list[Any] = []
        for column in self._columns:
            if column.source is not None:
                sources.append(chunk.get_column(column.source).to_list())
            else:
                sources.append(repeat(column.constant, chunk.height))
        return list(zip(*sources, strict=False))

    # -- mapping columns to fields ------------------------------------------

    def _map_columns(self, df: pl.DataFrame) -> dict[str, pl.Series]:
        """``{field name: column}``; a column may be named by name or attname."""
        meta = get_model_meta(self.model)
        by_name: dict[str, Any] = {}
        for concrete in meta.concrete_fields:
            by_name[concrete.name] = concrete
            by_name[concrete.attname] = concrete
        given: dict[str, pl.Series] = {}
        for name in df.columns:
            field: Any = by_name.get(name)
            if field is None:
                self._refuse_unknown(name)
            if getattr(field, "generated", False):
                message = (
                    f"{self._label(field)} is a generated column, computed by the "
                    f"database; drop column {name!r} from the frame"
                )
                raise self._error(message, column=name)
            if getattr(field, "auto_now", False) or getattr(
                field, "auto_now_add", False
            ):
                message = (
                    f"{self._label(field)} is set by Django on save (auto_now / "
                    f"auto_now_add) and would overwrite the frame's values; drop "
                    f"column {name!r} from the frame"
                )
                raise self._error(message, column=name)
            if field.name in given:
                message = (
                    f"the frame sets {self._label(field)} twice (columns "
                    f"{field.name!r} and {field.attname!r}); keep one"
                )
                raise self._error(message, column=name)
            given[field.name] = df.get_column(name)
        return given

    def _refuse_unknown(self, name: str) -> None:
        meta = get_model_meta(self.model)
        try:
            field = meta.get_field(name)
        except FieldDoesNotExist:
            field = None
        if field is not None:
            message = (
                f"column {name!r}: {self.model.__name__}.{name} is a many-to-many "
                "or reverse relation, not a column of the model's table; load it "
                "separately (for a many-to-many, a frame of its through model)"
            )
            raise self._error(message, column=name)
        names = sorted(
            {f.name for f in meta.concrete_fields}
            | {f.attname for f in meta.concrete_fields}
        )
        message = (
            f"column {name!r} is not a field of {self.model.__name__}; "
            f"the frame may name: {', '.join(names)}"
        )
        raise self._error(message, column=name)

    def _missing(self, field: Any) -> _Column | None:
        """The column for a field the frame leaves out, or None to omit it."""
        meta = get_model_meta(self.model)
        if field is meta.pk and isinstance(field, models.AutoField):
            return None  # the database assigns the keys
        if field.db_default is not NOT_PROVIDED:
            return None  # the database fills in its own default
        if field.has_default() and callable(field.default):
            # A callable default (uuid4, a counter) gives every row its own.
            values = [field.get_default() for _ in range(self.height)]
            series = pl.Series(field.attname, values, dtype=pl.Object)
            self._prepared.append(self._convert_with_django(field, series))
            return _Column(field.column, source=field.attname)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = field.pre_save(self.model(), add=True)
        elif field.has_default() or field.null:
            value = field.get_default()
        else:
            # Django's own default: "" for a text field, None otherwise.
            value = field.get_default()
            if value is None:
                message = (
                    f"the frame has no column for {self._label(field)}, which is "
                    f"required (not null, no default); add a column {field.name!r}"
                )
                raise self._error(message, column=field.name)
        constant = None if value is None else self._db_value(field, value, None)
        return _Column(field.column, constant=constant)

    # -- checks ----------------------------------------------------------------

    def _label(self, field: Any) -> str:
        return f"{self.model.__name__}.{field.name}"

    def _error(
        self,
        message: str,
        *,
        column: str | None = None,
        row: int | None = None,
        value: Any = None,
        reason: str | None = None,
        rows: list[int] | None = None,
    ) -> BulkInputError:
        """A :class:`BulkInputError` about this frame; rows are 1-based."""
        return BulkInputError(
            message,
            model=self.model,
            field=column,
            row=row,
            value=value,
            reason=reason,
            rows=rows,
        )

    def _refuse(
        self,
        field: Any,
        series: pl.Series,
        row: int,
        why: str,
        *,
        rows: list[int] | None = None,
        each: str | None = None,
    ) -> None:
        """Refuse the value at 0-based position ``row``; reported 1-based.

        ``rows`` (1-based) are all the rows the same rule refuses and
        ``each`` the reason for any one of them, for callers that set bad
        rows aside (``rejects=``).
        """
        message = (
            f"column {series.name!r} ({self._label(field)}), row {row + 1}: "
            f"{_sample(series, row)} {why}"
        )
        raise self._error(
            message,
            column=series.name,
            row=row + 1,
            value=_value_at(series, row),
            reason=each or why,
            rows=rows,
        )

    def _refuse_first(
        self, field: Any, series: pl.Series, mask: pl.Series, why: str
    ) -> None:
        """Refuse the first row where ``mask`` is True, if there is one."""
        if mask.any():
            count = int(mask.sum())
            self._refuse(
                field,
                series,
                _first_row(mask),
                f"{why} ({count} in all)",
                rows=_true_rows(mask),
                each=why,
            )

    def _check_values(self, field: Any, series: pl.Series) -> None:
        """Refuse a column whose type or values the field cannot store."""
        kind = _value_kind(field)
        if not _dtype_fits(kind, series.dtype):
            message = (
                f"column {series.name!r} ({self._label(field)}) has type "
                f"{series.dtype}; {type(field).__name__} needs {_KIND_DTYPES[kind]}"
            )
            raise BulkInputTypeError(
                message, model=self.model, field=series.name, reason=message
            )
        if not field.null and series.null_count():
            row = _first_row(series.is_null())
            each = "null, but the field is not nullable"
            why = f"{each} ({series.null_count()} nulls in all)"
            message = f"column {series.name!r} ({self._label(field)}), row {row + 1}: "
            raise self._error(
                message + why,
                column=series.name,
                row=row + 1,
                reason=each,
                rows=_true_rows(series.is_null()),
            )
        if series.dtype == pl.Null:
            return
        checks: dict[str, Callable[[Any, pl.Series], None]] = {
            _TEXT: self._check_text,
            _TEXT_BY_DJANGO: self._check_text,
            _INTEGER: self._check_integers,
            _FLOAT: self._check_floats,
            _DATE: self._check_dates,
            _DATETIME: self._check_datetimes,
            _TIME: self._check_times,
            _DURATION: self._check_durations,
        }
        check = checks.get(kind)
        if check is not None:
            check(field, series)
        if field.choices:
            self._check_choices(field, series)

    def _check_text(self, field: Any, series: pl.Series) -> None:
        text = series.cast(pl.String)
        if self.connection.vendor == "postgresql":
            self._refuse_first(
                field,
                series,
                text.str.contains("\x00", literal=True),
                "holds a NUL character, which PostgreSQL text cannot store",
            )
        # A foreign key to a text key has the length limit of that key.
        target = field.target_field if field.is_relation else field
        max_length = getattr(target, "max_length", None)
        if max_length is not None and not isinstance(target, models.TextField):
            self._refuse_first(
                field,
                series,
                text.str.len_chars() > max_length,
                f"is longer than max_length={max_length}",
            )
        if isinstance(target, models.GenericIPAddressField):
            # PostgreSQL's inet column refuses what is not an address; the
            # other backends would store any text.
            for row, value in enumerate(text.to_list()):
                if value is None or (value == "" and target.null):
                    continue
                try:
                    target.run_validators(value)
                except ValidationError as error:
                    self._refuse(field, series, row, " ".join(error.messages))

    def _check_integers(self, field: Any, series: pl.Series) -> None:
        target = field.target_field if field.is_relation else field
        low, high = self.connection.ops.integer_field_range(target.get_internal_type())

        def outside(value: Any) -> bool:
            return bool(
                (low is not None and value < low) or (high is not None and value > high)
            )

        # Compared in Python: the bounds may not fit the column's dtype.
        smallest, largest = series.min(), series.max()
        if smallest is None or not (outside(smallest) or outside(largest)):
            return
        row = next(
            row
            for row, value in enumerate(series.to_list())
            if value is not None and outside(value)
        )
        self._refuse(
            field, series, row, f"is outside the column's range [{low}, {high}]"
        )

    def _check_floats(self, field: Any, series: pl.Series) -> None:
        """Refuse what a double cannot hold exactly or the backend cannot keep."""
        if series.dtype.is_integer():
            # Every integer up to 2**53 is a double; above, only some are.
            # (Compared as floats: the bound may not fit the column's dtype,
            # and every integer at or above it rounds to a float at or above.)
            beyond = series.cast(pl.Float64).abs() >= _EXACT_FLOAT_INTEGER
            for row in beyond.fill_null(value=False).arg_true().to_list():
                value = series[row]
                if int(float(value)) != value:
                    self._refuse(
                        field,
                        series,
                        row,
                        "has no exact double-precision value (it would be stored "
                        f"as {int(float(value))}); cast the column to Float64 "
                        "yourself to accept the rounding",
                    )
            return
        vendor = self.connection.vendor
        if vendor not in _KEEPS_NAN:
            self._refuse_first(
                field,
                series,
                series.is_nan(),
                f"is NaN, which {vendor} cannot store in a float column",
            )
        if vendor not in _KEEPS_INFINITY:
            self._refuse_first(
                field,
                series,
                series.is_infinite(),
                f"is infinite, which {vendor} cannot store in a float column",
            )

    def _check_years(
        self, field: Any, series: pl.Series, years: pl.Series, where: str
    ) -> None:
        """Refuse years Python's dates cannot hold: the ORM could not read them."""
        self._refuse_first(
            field,
            series,
            (years < 1) | (years > _MAX_YEAR),
            f"falls outside the years 1-{_MAX_YEAR}{where}, which Django cannot "
            "read back",
        )

    def _check_dates(self, field: Any, series: pl.Series) -> None:
        self._check_years(field, series, series.dt.year(), "")

    def _check_datetimes(self, field: Any, series: pl.Series) -> None:
        dtype = series.dtype
        assert isinstance(dtype, pl.Datetime)
        aware = dtype.time_zone is not None
        column = series.name
        if settings.USE_TZ and not aware:
            message = (
                f"column {column!r} ({self._label(field)}) holds naive "
                "datetimes but USE_TZ is on; give them a time zone first, e.g. "
                ".dt.replace_time_zone('UTC')"
            )
            raise self._error(message, column=column, reason=message)
        if not settings.USE_TZ and aware:
            message = (
                f"column {column!r} ({self._label(field)}) holds datetimes "
                "with a time zone but USE_TZ is off; make them naive first, e.g. "
                ".dt.convert_time_zone(...).dt.replace_time_zone(None)"
            )
            raise self._error(message, column=column, reason=message)
        if dtype.time_unit == "ns":
            self._refuse_first(
                field,
                series,
                series.dt.nanosecond() % 1000 != 0,
                "has nanoseconds; the database keeps microseconds",
            )
        if not aware:
            self._check_years(field, series, series.dt.year(), "")
            return
        # Stored in UTC, or in the connection's zone where the database has
        # no time zones; read back in UTC.
        zones = {"UTC", self._storage_zone()}
        for zone in sorted(zones):
            years = series.dt.convert_time_zone(zone).dt.year()
            self._check_years(field, series, years, f" in {zone}")

    def _storage_zone(self) -> str:
        if self.connection.features.supports_timezones:
            return "UTC"
        return str(self.connection.timezone_name)

    def _check_times(self, field: Any, series: pl.Series) -> None:
        self._refuse_first(
            field,
            series,
            series.dt.nanosecond() % 1000 != 0,
            "has nanoseconds; the database keeps microseconds",
        )

    def _check_durations(self, field: Any, series: pl.Series) -> None:
        dtype = series.dtype
        assert isinstance(dtype, pl.Duration)
        if dtype.time_unit == "ns":
            self._refuse_first(
                field,
                series,
                series.dt.total_nanoseconds() % 1000 != 0,
                "has nanoseconds; the database keeps microseconds",
            )
        elif dtype.time_unit == "ms":
            # A bigint of microseconds where the database has no interval
            # type; PostgreSQL's is wider, but Python's timedelta is not.
            limit = _MAX_MICROSECONDS // 1000
            raw = series.cast(pl.Int64)
            self._refuse_first(
                field,
                series,
                (raw > limit) | (raw < -limit),
                f"is longer than {_MAX_MICROSECONDS} microseconds, the most a "
                "DurationField column holds",
            )

    def _check_json(self, field: Any, series: pl.Series, row: int, value: Any) -> None:
        """Refuse a value the JSON column would refuse or not read back as it is.

        Django serialises with ``json.dumps`` and the field's encoder, which
        writes NaN and infinities as tokens no database's JSON accepts and
        refuses types it does not know (dates, unless the encoder knows them).
        """
        try:
            text = json.dumps(value, cls=field.encoder, allow_nan=False)
        except (TypeError, ValueError, OverflowError) as error:
            self._refuse(
                field, series, row, f"is not valid JSON for the field: {error}"
            )
        if self.connection.vendor == "postgresql":
            problem = _jsonb_problem(json.loads(text))
            if problem is not None:
                self._refuse(field, series, row, problem)

    def _check_unique(self, given: dict[str, pl.Series]) -> None:
        """Refuse two rows of the frame that share a value that must be unique.

        Rows with a null in the key never clash, as in a unique index. Keys
        with a column the frame leaves out are the database's to check.
        """
        meta = get_model_meta(self.model)
        key_sets = [[field.name] for field in meta.concrete_fields if field.unique]
        key_sets += [list(names) for names in meta.unique_together]
        key_sets += [list(c.fields) for c in meta.total_unique_constraints]
        for names in key_sets:
            fields = [meta.get_field(name) for name in names]
            if not all(field.name in given for field in fields):
                continue
            if any(given[field.name].dtype == pl.Object for field in fields):
                continue  # not comparable in bulk; the database checks
            keys = pl.DataFrame([given[field.name] for field in fields])
            keys = keys.with_row_index("row").drop_nulls()
            clashing = keys.filter(keys.drop("row").is_duplicated())
            if clashing.height:
                first = clashing.row(0)
                key = first[1:]
                second = clashing.filter(
                    pl.all_horizontal(
                        pl.col(name) == value
                        for name, value in zip(keys.columns[1:], key, strict=True)
                    )
                ).row(1)
                columns = ", ".join(keys.columns[1:])
                why = (
                    f"the same {columns} ({', '.join(repr(v) for v in key)}) as row "
                    f"{first[0] + 1}, which must be unique in {self.model.__name__}"
                )
                message = (
                    f"rows {first[0] + 1} and {second[0] + 1} of the frame have the "
                    f"same {columns} ({', '.join(repr(v) for v in key)}), which must "
                    f"be unique in {self.model.__name__}"
                )
                raise self._error(
                    message,
                    column=columns if len(fields) == 1 else None,
                    row=second[0] + 1,
                    value=key[0] if len(key) == 1 else key,
                    reason=why,
                )

    def _check_choices(self, field: Any, series: pl.Series) -> None:
        allowed = {value for value, _ in field.flatchoices}
        unique = series.drop_nulls().unique().to_list()
        bad = [value for value in unique if value not in allowed]
        if bad:
            row = _first_row(series.is_in(pl.Series(bad, dtype=series.dtype).implode()))
            choices = ", ".join(repr(value) for value in sorted(allowed, key=str))
            self._refuse(field, series, row, f"is not one of the choices: {choices}")

    # -- conversion ------------------------------------------------------------

    def _convert(self, field: Any, series: pl.Series) -> pl.Series:
        """The database values of a checked column, as a column."""
        kind = _value_kind(field)
        if series.dtype == pl.Null:
            return series
        if self._check_only and kind in (_DATE, _DATETIME, _TIME):
            return series
        converters: dict[str, Callable[[], pl.Series]] = {
            _TEXT: lambda: series.cast(pl.String),
            _FLOAT: lambda: series.cast(pl.Float64),
            _DECIMAL: lambda: self._convert_decimals(field, series),
            _DATE: lambda: self._temporal_text(kind, series),
            _DATETIME: lambda: self._temporal_text(kind, series),
            _TIME: lambda: self._temporal_text(kind, series),
            _DURATION: lambda: self._convert_with_django(field, series),
            _BINARY: lambda: self._convert_with_django(field, series),
            _UUID: lambda: self._convert_with_django(field, series),
            _JSON: lambda: self._convert_json(field, series),
            _TEXT_BY_DJANGO: lambda: self._convert_with_django(field, series),
            _DJANGO: lambda: self._convert_with_django(field, series),
        }
        convert = converters.get(kind)
        return series if convert is None else convert()

    def _temporal_text(self, kind: str, series: pl.Series) -> pl.Series:
        """Dates and times as the text Django would send, formatted in bulk.

        Django sends ``str(value)`` of a date, time or datetime (microseconds
        only when there are some); a backend without time zone support gets
        datetimes made naive in the connection's time zone, the others UTC
        with an explicit offset. Matching Django's text exactly matters on
        SQLite, which compares these values as strings in lookups.
        """
        if kind == _DATE:
            return series.dt.strftime("%Y-%m-%d")
        if kind == _DATETIME:
            dtype = series.dtype
            assert isinstance(dtype, pl.Datetime)
            values = series.dt.cast_time_unit("us")
            offset = ""
            if dtype.time_zone is not None:
                if self.connection.features.supports_timezones:
                    values = values.dt.convert_time_zone("UTC")
                    offset = "+00:00"
                else:
                    zone = self.connection.timezone_name
                    values = values.dt.convert_time_zone(zone)
                values = values.dt.replace_time_zone(None)
            whole = "%Y-%m-%d %H:%M:%S"
        else:
            values = series
            offset = ""
            whole = "%H:%M:%S"
        frame = pl.DataFrame({"v": values})
        text = frame.select(
            pl.when(pl.col("v").dt.microsecond() == 0)
            .then(pl.col("v").dt.strftime(whole + offset))
            .otherwise(pl.col("v").dt.strftime(whole + "%.6f" + offset))
        ).to_series()
        return text.alias(series.name)

    def _convert_decimals(self, field: Any, series: pl.Series) -> pl.Series:
        """Refuse decimals the column would round; keep the others exact.

        SQLite stores decimals as floats and Django reads them back with 15
        significant digits, so there a longer decimal is refused too.
        """
        places = field.decimal_places
        whole_digits = field.max_digits - places
        on_sqlite = self.connection.vendor == "sqlite"
        values = series.to_list()
        for row, value in enumerate(values):
            if value is None:
                continue
            exact = decimal.Decimal(value)
            if exact.adjusted() >= whole_digits:
                self._refuse(
                    field,
                    series,
                    row,
                    f"has more than {whole_digits} digits before the point "
                    f"(max_digits={field.max_digits}, decimal_places={places})",
                )
            # Trailing zeros lose nothing; counted without a context, which
            # would round a long value.
            digits, exponent = _significant(exact)
            if exponent < -places:
                self._refuse(field, series, row, f"has more than {places} decimals")
            if on_sqlite and len(digits) > _SQLITE_DECIMAL_DIGITS:
                self._refuse(
                    field,
                    series,
                    row,
                    f"has more than {_SQLITE_DECIMAL_DIGITS} significant digits; "
                    "SQLite stores decimals as floats and would round it",
                )
        return self._convert_with_django(field, series, values)

    def _convert_json(self, field: Any, series: pl.Series) -> pl.Series:
        values = series.to_list()
        for row, value in enumerate(values):
            if value is not None:
                self._check_json(field, series, row, value)
        return self._convert_with_django(field, series, values)

    def _convert_with_django(
        self, field: Any, series: pl.Series, values: Sequence[Any] | None = None
    ) -> pl.Series:
        """Each value through the field's ``to_python`` and ``get_db_prep_save``."""
        if values is None:
            values = series.to_list()
        converted = [
            None if value is None else self._db_value(field, value, (series, row))
            for row, value in enumerate(values)
        ]
        return pl.Series(series.name, converted, dtype=pl.Object)

    def _db_value(
        self, field: Any, value: Any, where: tuple[pl.Series, int] | None
    ) -> Any:
        try:
            python_value = field.to_python(value)
            return field.get_db_prep_save(python_value, self.connection)
        except (ValidationError, TypeError, ValueError, OverflowError) as error:
            reason = "; ".join(getattr(error, "messages", [str(error)]))
            if where is None:
                message = f"{self._label(field)}: default {value!r} refused: {reason}"
                raise self._error(
                    message, column=field.name, value=value, reason=message
                ) from error
            series, row = where
            self._refuse(field, series, row, f"is refused by the field: {reason}")
            raise  # pragma: no cover (_refuse always raises)
