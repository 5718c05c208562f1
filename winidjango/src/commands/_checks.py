"""Find bad data before an import writes anything, and say where it is.

An import fails on bad data either way; these checks make it fail early and
name the column and row, which a database error often cannot do (SQLite's
"NOT NULL constraint failed: testapp_book.title" names no row, and SQLite
does not enforce ``max_length`` at all, so the same file would load there and
fail on PostgreSQL). Rows are numbered from 1, in the order the data frame or
the model's bulk has them. Whatever these checks do not catch (a clash with a
row already in the database, a case-insensitive collation) is still refused by
the database, and the import command reports its message.
"""

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import polars as pl
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import models
from django.db.models import Field, Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from winidjango.src.db._values import passthrough_type

_MAX_SHOWN = 60

# A lazy alias: Django's Field is generic only in django-stubs, not at runtime.
type _Field = Field[Any, Any]


class _NotAType:
    """No value has this type: the field is always checked in full."""


_NOT_A_TYPE = _NotAType
_PLAIN_TYPES = (bool, str, float, int)
# Most specific first: a datetime is also a date.
_TEMPORAL = (
    (models.DateTimeField, datetime.datetime),
    (models.DateField, datetime.date),
    (models.TimeField, datetime.time),
)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


# -- the raw data frame -----------------------------------------------------


def check_columns(df: pl.DataFrame, cleaning_cls: type[CleaningDF]) -> None:
    """Refuse a frame that lacks a column the cleaning class renames.

    Examples:
        >>> check_columns(pl.DataFrame({"mail": []}), UserCleaningDF)
        Traceback (most recent call last):
        CommandError: The imported data has no column 'name' ...
    """
    rename_map = cleaning_cls.get_rename_map()
    present = set(df.columns)
    missing = {raw: clean for clean, raw in rename_map.items() if raw not in present}
    if not missing:
        return
    wanted = ", ".join(
        f"{raw!r} (cleaned as {clean!r})" for raw, clean in missing.items()
    )
    noun = "column" if len(missing) == 1 else "columns"
    found = ", ".join(repr(name) for name in df.columns) or "none"
    message = (
        f"The imported data has no {noun} {wanted}, which "
        f"{cleaning_cls.__name__} needs. Columns found: {found}."
    )
    raise CommandError(message)


def check_column_types(
    df: pl.DataFrame,
    cleaning_cls: type[CleaningDF],
    *,
    refused: dict[int, tuple[str, str, Any]] | None = None,
) -> pl.DataFrame:
    """Refuse a value that cannot become its column's type, naming column and row.

    Return ``df`` with its text columns for dates, datetimes, times and
    booleans parsed into those types, ready for the cleaning class. Polars 2
    no longer casts text to temporal types (and never cast text to
    ``Boolean``), so such columns, as read from a CSV file, are parsed here,
    strictly:

    - ``Date``: ``YYYY-MM-DD``;
    - ``Time``: ``HH:MM``, ``HH:MM:SS`` or ``HH:MM:SS.ffffff``;
    - ``Datetime``: a date and a time as above, separated by ``T`` or a
      space; with an offset (``+01:00``, ``Z``) too if the declared type has a
      time zone (naive values are then taken to be in that zone);
    - ``Boolean``: ``true``/``false``, ``t``/``f``, ``yes``/``no``,
      ``y``/``n``, ``1``/``0``, in any case.

    Surrounding spaces are ignored. Every other column is cast with polars'
    strict cast, as the cleaning class will; this finds the first value that
    fails.

    With ``refused`` (a dict), a value that fails does not stop the import:
    its row is recorded there as ``{0-based position: (column, reason,
    value)}`` (the first failing column per row) and its value becomes null;
    the caller drops those rows.

    Examples:
        >>> check_column_types(pl.DataFrame({"year": ["1990", "soon"]}), Cleaner)
        Traceback (most recent call last):
        CommandError: Column 'year', row 2: 'soon' is not a valid Int64.
    """
    rename_map = cleaning_cls.get_rename_map()
    parsed: list[pl.Series] = []
    for clean_name, dtype in cleaning_cls.get_col_dtype_map().items():
        raw_name = rename_map.get(clean_name, clean_name)
        if raw_name not in df.columns:
            continue
        series = df.get_column(raw_name)
        if _is_text(series.dtype) and _parses_text(dtype):
            parsed.append(_parse_text(raw_name, series, dtype, refused))
            continue
        try:
            series.cast(dtype, strict=True)
        except pl.exceptions.PolarsError as error:
            if refused is None:
                message = _cast_failure(raw_name, series, dtype, error)
                raise CommandError(message) from None
            lost = series.is_not_null() & series.cast(dtype, strict=False).is_null()
            _record(refused, raw_name, series, lost, f"is not a valid {dtype}")
            parsed.append(series.cast(dtype, strict=False))
    return df.with_columns(parsed) if parsed else df


def _record(
    refused: dict[int, tuple[str, str, Any]],
    name: str,
    series: pl.Series,
    failed: pl.Series,
    reason: str,
) -> None:
    """Add the rows where ``failed`` holds to ``refused`` (first column wins)."""
    for index in failed.fill_null(value=False).arg_true().to_list():
        refused.setdefault(index, (name, reason, series[index]))


def _is_text(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)


def _dtype_class(dtype: Any) -> type[pl.DataType]:
    return dtype if isinstance(dtype, type) else type(dtype)


def _parses_text(dtype: Any) -> bool:
    return _dtype_class(dtype) in (pl.Date, pl.Datetime, pl.Time, pl.Boolean)


_TIMES = ("%H:%M:%S%.f", "%H:%M")
_DATE = "%Y-%m-%d"
_BOOLEANS = {
    **dict.fromkeys(("true", "t", "yes", "y", "1"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0"), False),
}
_EXPECTED = {
    pl.Date: "YYYY-MM-DD",
    pl.Time: "HH:MM[:SS[.ffffff]]",
    pl.Datetime: "YYYY-MM-DD HH:MM[:SS[.ffffff]], with T or a space",
    pl.Boolean: "true/false, t/f, yes/no, y/n or 1/0",
}


def _parse_text(
    name: str,
    series: pl.Series,
    dtype: Any,
    refused: dict[int, tuple[str, str, Any]] | None = None,
) -> pl.Series:
    """``series`` (text) parsed as ``dtype``; refuse the first value that fails.

    Each value may take any of the accepted layouts; they cannot be confused
    with one another, so no value is read two ways.
    """
    text = series.cast(pl.String).str.strip_chars()
    kind = _dtype_class(dtype)
    candidates: list[pl.Series]
    if kind is pl.Boolean:
        candidates = [
            text.str.to_lowercase().replace_strict(
                _BOOLEANS, default=None, return_dtype=pl.Boolean
            )
        ]
    elif kind is pl.Date:
        candidates = [text.str.to_date(_DATE, strict=False)]
    elif kind is pl.Time:
        candidates = [text.str.to_time(layout, strict=False) for layout in _TIMES]
    else:
        candidates = _datetime_candidates(text, dtype)
    values = pl.select(pl.coalesce(candidates)).to_series()
    failed = text.is_not_null() & values.is_null()
    if failed.any() and refused is not None:
        reason = f"is not a valid {dtype} (expected {_EXPECTED[kind]})"
        _record(refused, name, series, failed, reason)
    elif failed.any():
        index = int(failed.arg_true()[0])
        message = (
            f"Column {name!r}, row {index + 1}: {_shown(series[index])} is not a "
            f"valid {dtype} (expected {_EXPECTED[kind]})."
        )
        raise CommandError(message)
    return values.alias(name)


def _datetime_candidates(text: pl.Series, dtype: Any) -> list[pl.Series]:
    unit: Literal["ns", "us", "ms"] = getattr(dtype, "time_unit", None) or "us"
    zone = getattr(dtype, "time_zone", None)
    layouts = [f"{_DATE}{sep}{time}" for sep in ("T", " ") for time in _TIMES]
    candidates = [
        text.str.to_datetime(layout, time_unit=unit, strict=False) for layout in layouts
    ]
    if zone is None:
        return candidates
    # Naive text is in the declared zone; text with an offset is converted.
    # A local time the zone skips or has twice (daylight saving) is refused,
    # not guessed.
    candidates = [
        candidate.dt.replace_time_zone(zone, ambiguous="null", non_existent="null")
        for candidate in candidates
    ]
    candidates += [
        text.str.to_datetime(
            layout + offset, time_unit=unit, strict=False
        ).dt.convert_time_zone(zone)
        for layout in layouts
        for offset in ("%z", "Z")
    ]
    return candidates


def _cast_failure(
    name: str, series: pl.Series, dtype: type[pl.DataType], error: Exception
) -> str:
    lost = series.is_not_null() & series.cast(dtype, strict=False).is_null()
    positions = lost.arg_true()
    if positions.len() == 0:
        return f"Column {name!r} cannot be read as {dtype}: {error}"
    index = int(positions[0])
    value = _shown(series[index])
    return f"Column {name!r}, row {index + 1}: {value} is not a valid {dtype}."


# -- the model objects ------------------------------------------------------


def check_bulks(bulks: Mapping[type[Model], Sequence[Model]]) -> None:
    """Refuse objects whose values the database would reject, naming the row.

    Checked for every object that is not saved yet: its type, ``NULL`` in a
    column that forbids it, text longer than ``max_length``, a value the
    field cannot convert (``"abc"`` for an integer), a value outside the
    field's ``choices`` (as ``full_clean()`` would refuse), and two objects of
    the same bulk sharing a value that must be unique.

    Examples:
        >>> check_bulks({Tag: [Tag(name="a"), Tag(name="a")]})
        Traceback (most recent call last):
        CommandError: testapp.Tag rows 1 and 2 have the same name ('a'), ...
    """
    for model, objs in bulks.items():
        _check_objects(model, objs)


def _check_objects(model: type[Model], objs: Sequence[Model]) -> None:
    label = model._meta.label
    fields = [
        field for field in model._meta.concrete_fields if not _is_generated(field)
    ]
    # Values of the type their field stores unchanged need only the length
    # check; converting every one of millions of values costs seconds.
    clean_types = [_clean_type(field) for field in fields]
    unique_sets = _unique_field_sets(model)
    choices = [
        (field, {value for value, _ in field.flatchoices})
        for field in fields
        if field.choices
    ]
    first_row_by_key: list[dict[tuple[Any, ...], int]] = [{} for _ in unique_sets]
    for row, obj in enumerate(objs, start=1):
        if not isinstance(obj, model):
            message = (
                f"{label} row {row} is a {type(obj).__name__}, not a {model.__name__}."
            )
            raise CommandError(message)
        if not obj._state.adding:
            continue  # saved already: the bulk create leaves it alone
        values = obj.__dict__
        for field, clean_type in zip(fields, clean_types, strict=True):
            value: Any = values.get(field.attname)
            if type(value) is clean_type and (
                not isinstance(value, str)
                or field.max_length is None
                or len(value) <= field.max_length
            ):
                continue
            _check_value(label, row, obj, field)
        for field, allowed in choices:
            value = values.get(field.attname)
            if value is not None and value not in allowed:
                if value == "" and field.blank:
                    continue
                shown = ", ".join(repr(choice) for choice in sorted(allowed, key=str))
                message = (
                    f"{label} row {row}: {field.name} {value!r} is not one of the "
                    f"choices: {shown}."
                )
                raise CommandError(message)
        for fields_set, seen in zip(unique_sets, first_row_by_key, strict=True):
            _check_unique(label, row, obj, fields_set, seen)


def _clean_type(field: _Field) -> type:
    """The value type that ``field`` accepts as is, without conversion."""
    stored_as_is = passthrough_type(field)
    if stored_as_is in _PLAIN_TYPES:
        return stored_as_is
    if type(field).to_python.__module__.startswith("django.db.models.fields"):
        for field_class, value_type in _TEMPORAL:
            if isinstance(field, field_class):
                return value_type
    return _NOT_A_TYPE


def _is_generated(field: _Field) -> bool:
    return bool(getattr(field, "generated", False))


def _is_expression(value: object) -> bool:
    # F(), db_default's DatabaseDefault, functions: the database computes them.
    return hasattr(value, "resolve_expression")


def _value(obj: Model, field: _Field) -> Any:
    """The field's value; for a foreign key, the related object if one is set.

    ``Book(author=unsaved_author)`` has ``author_id=None`` until the author is
    created, so the id alone would look like a missing value.
    """
    if field.is_relation and field.is_cached(obj):  # type: ignore[attr-defined]
        return field.get_cached_value(obj)  # type: ignore[attr-defined]
    return getattr(obj, field.attname)


def _check_value(label: str, row: int, obj: Model, field: _Field) -> None:
    value = _value(obj, field)
    if _is_expression(value):
        return
    problem = None
    if value is None:
        # Filled in on save: an automatic primary key by the database,
        # auto_now/auto_now_add timestamps (BaseModel's) by Django.
        filled_on_save = (
            (field.primary_key and field.db_returning)
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        )
        if not field.null and not filled_on_save:
            problem = "is empty, but the column does not allow NULL"
    elif (
        field.max_length is not None
        and isinstance(value, str)
        and len(value) > field.max_length
    ):
        problem = f"is {len(value)} characters long, more than {field.max_length}"
    if problem is None and value is not None and not field.is_relation:
        try:
            field.to_python(value)
        except ValidationError as error:
            problem = "is invalid: " + " ".join(error.messages)
    if problem is not None:
        message = f"{label} row {row}: {field.name} {_shown(value)} {problem}."
        raise CommandError(message)


def _unique_field_sets(model: type[Model]) -> list[tuple[_Field, ...]]:
    meta = model._meta
    sets: list[tuple[_Field, ...]] = [
        (field,) for field in meta.concrete_fields if field.unique
    ]
    names_sets: list[Iterable[str]] = [*meta.unique_together]
    names_sets += [constraint.fields for constraint in meta.total_unique_constraints]
    for names in names_sets:
        fields = tuple(meta.get_field(name) for name in names)
        if fields and fields not in sets:
            sets.append(fields)  # type: ignore[arg-type]
    return sets


def _unique_key_part(obj: Model, field: _Field) -> Any:
    value = _value(obj, field)
    if isinstance(value, Model):
        # Two unsaved parents are different rows even while both pks are None.
        return ("pk", value.pk) if value.pk is not None else ("new", id(value))
    return value


def _check_unique(
    label: str,
    row: int,
    obj: Model,
    fields: tuple[_Field, ...],
    seen: dict[tuple[Any, ...], int],
) -> None:
    key = tuple(_unique_key_part(obj, field) for field in fields)
    # NULLs never clash in a unique index; expressions are the database's job.
    if any(part is None or _is_expression(part) for part in key):
        return
    try:
        first_row = seen.setdefault(key, row)
    except TypeError:  # an unhashable value (e.g. a dict for a JSONField)
        return
    if first_row == row:
        return
    names = ", ".join(field.name for field in fields)
    values = ", ".join(_shown(_value(obj, field)) for field in fields)
    message = (
        f"{label} rows {first_row} and {row} have the same {names} ({values}), "
        "which must be unique."
    )
    raise CommandError(message)
