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
"""

import decimal
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
    )
    for field_class, kind in checks:
        if isinstance(field, field_class):
            return kind
    return _DJANGO


_DTYPE_FITS: dict[str, Callable[[pl.DataType], bool]] = {
    _TEXT: lambda d: d in (pl.String, pl.Categorical) or isinstance(d, pl.Enum),
    _INTEGER: lambda d: d.is_integer(),
    _FLOAT: lambda d: d.is_float() or d.is_integer(),
    _BOOLEAN: lambda d: d == pl.Boolean,
    _DECIMAL: lambda d: isinstance(d, pl.Decimal) or d.is_integer(),
    _DATE: lambda d: d == pl.Date,
    _DATETIME: lambda d: isinstance(d, pl.Datetime),
    _TIME: lambda d: d == pl.Time,
}


def _dtype_fits(kind: str, dtype: pl.DataType) -> bool:
    if dtype == pl.Null:
        return True  # an all-null column fits any nullable field
    fits = _DTYPE_FITS.get(kind)
    return fits is None or fits(dtype)


def _first_row(mask: pl.Series) -> int:
    """The position of the first True of a boolean series (nulls count False)."""
    return int(mask.fill_null(value=False).arg_true()[0])


def _sample(series: pl.Series, row: int) -> str:
    value = series[row]
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
            raise TypeError(message)
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
            raise ValueError(message)
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
                raise ValueError(message)
            if getattr(field, "auto_now", False) or getattr(
                field, "auto_now_add", False
            ):
                message = (
                    f"{self._label(field)} is set by Django on save (auto_now / "
                    f"auto_now_add) and would overwrite the frame's values; drop "
                    f"column {name!r} from the frame"
                )
                raise ValueError(message)
            if field.name in given:
                message = (
                    f"the frame sets {self._label(field)} twice (columns "
                    f"{field.name!r} and {field.attname!r}); keep one"
                )
                raise ValueError(message)
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
            raise ValueError(message)
        names = sorted(
            {f.name for f in meta.concrete_fields}
            | {f.attname for f in meta.concrete_fields}
        )
        message = (
            f"column {name!r} is not a field of {self.model.__name__}; "
            f"the frame may name: {', '.join(names)}"
        )
        raise ValueError(message)

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
                raise ValueError(message)
        constant = None if value is None else self._db_value(field, value, None)
        return _Column(field.column, constant=constant)

    # -- checks ----------------------------------------------------------------

    def _label(self, field: Any) -> str:
        return f"{self.model.__name__}.{field.name}"

    def _refuse(self, field: Any, series: pl.Series, row: int, why: str) -> None:
        message = (
            f"column {series.name!r} ({self._label(field)}), row index {row}: "
            f"{_sample(series, row)} {why}"
        )
        raise ValueError(message)

    def _check_values(self, field: Any, series: pl.Series) -> None:
        """Refuse a column whose type or values the field cannot store."""
        kind = _value_kind(field)
        if not _dtype_fits(kind, series.dtype):
            message = (
                f"column {series.name!r} ({self._label(field)}) has type "
                f"{series.dtype}; {type(field).__name__} needs {_KIND_DTYPES[kind]}"
            )
            raise TypeError(message)
        if not field.null and series.null_count():
            row = _first_row(series.is_null())
            message = (
                f"column {series.name!r} ({self._label(field)}), row index {row}: "
                f"null, but the field is not nullable ({series.null_count()} nulls "
                "in all)"
            )
            raise ValueError(message)
        if series.dtype == pl.Null:
            return
        if kind == _TEXT:
            self._check_text(field, series)
        elif kind == _INTEGER:
            self._check_integers(field, series)
        elif kind == _DATETIME:
            self._check_datetimes(field, series)
        if field.choices:
            self._check_choices(field, series)

    def _check_text(self, field: Any, series: pl.Series) -> None:
        # A foreign key to a text key has the length limit of that key.
        target = field.target_field if field.is_relation else field
        max_length = getattr(target, "max_length", None)
        if max_length is None or isinstance(target, models.TextField):
            return
        too_long = series.cast(pl.String).str.len_chars() > max_length
        if too_long.any():
            row = _first_row(too_long)
            self._refuse(
                field,
                series,
                row,
                f"is longer than max_length={max_length} "
                f"({int(too_long.sum())} too long in all)",
            )

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

    def _check_datetimes(self, field: Any, series: pl.Series) -> None:
        dtype = series.dtype
        assert isinstance(dtype, pl.Datetime)
        aware = dtype.time_zone is not None
        if settings.USE_TZ and not aware:
            message = (
                f"column {series.name!r} ({self._label(field)}) holds naive "
                "datetimes but USE_TZ is on; give them a time zone first, e.g. "
                ".dt.replace_time_zone('UTC')"
            )
            raise ValueError(message)
        if not settings.USE_TZ and aware:
            message = (
                f"column {series.name!r} ({self._label(field)}) holds datetimes "
                "with a time zone but USE_TZ is off; make them naive first, e.g. "
                ".dt.convert_time_zone(...).dt.replace_time_zone(None)"
            )
            raise ValueError(message)
        if dtype.time_unit == "ns":
            lost = series.dt.nanosecond() % 1000 != 0
            if lost.any():
                self._refuse(
                    field,
                    series,
                    _first_row(lost),
                    "has nanoseconds; the database keeps microseconds",
                )

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
                message = (
                    f"rows at index {first[0]} and {second[0]} of the frame have "
                    f"the same {columns} ({', '.join(repr(v) for v in key)}), "
                    f"which must be unique in {self.model.__name__}"
                )
                raise ValueError(message)

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
        """Refuse decimals the column would round; keep the others exact."""
        places = field.decimal_places
        whole_digits = field.max_digits - places
        unit = decimal.Decimal(1).scaleb(-places)
        values = series.to_list()
        for row, value in enumerate(values):
            if value is None:
                continue
            exact = decimal.Decimal(value)
            if exact != exact.quantize(unit, rounding=decimal.ROUND_DOWN):
                self._refuse(field, series, row, f"has more than {places} decimals")
            if exact.adjusted() >= whole_digits:
                self._refuse(
                    field,
                    series,
                    row,
                    f"has more than {whole_digits} digits before the point "
                    f"(max_digits={field.max_digits}, decimal_places={places})",
                )
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
        except (ValidationError, TypeError, ValueError) as error:
            reason = "; ".join(getattr(error, "messages", [str(error)]))
            if where is None:
                message = f"{self._label(field)}: default {value!r} refused: {reason}"
                raise ValueError(message) from error
            series, row = where
            self._refuse(field, series, row, f"is refused by the field: {reason}")
            raise  # pragma: no cover (_refuse always raises)
