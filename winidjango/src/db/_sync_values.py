"""Values of a sync compared as the database stores them, in polars columns.

A sync decides "changed or not" for every row and field. Comparing Python
objects would call ``Decimal('1.50')`` and ``'1.5'`` different and an aware
and a naive datetime incomparable; comparing what Django would *store* does
not. Both sides therefore go through the field's ``get_db_prep_save``: the
data's values directly, the database's values after Django's own read
converters (``from_db_value`` and the backend's). The results are turned
into one comparable polars column per field:

- fields whose stored value is a plain ``int``, ``float``, ``bool`` or ``str``
  (``passthrough_type``) keep that type, compared exactly in polars;
- every other field becomes text (:func:`canonical_text`): aware datetimes in
  UTC, decimals without trailing zeros, JSON with sorted keys, bytes in hex.

Keys are also given a *match* column: the value the database's unique index
compares. On MariaDB a text key column's collation may ignore case, accents
or trailing spaces; the database itself computes the collation weight
(``WEIGHT_STRING``) for both the table's keys and the data's, so that a key
the index holds equal is matched, whatever the collation.
"""

import datetime
import decimal
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import polars as pl
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from winidjango.src.db._values import passthrough_type

_DTYPES: dict[type, pl.DataType] = {
    int: pl.Int64(),
    float: pl.Float64(),
    bool: pl.Boolean(),
    str: pl.String(),
}


def target_field(field: Any) -> Any:
    """The field whose values ``field`` stores (a foreign key's target)."""
    while field.is_relation:
        field = field.target_field
    return field


def comparable_dtype(field: Any) -> pl.DataType:
    """The polars type of ``field``'s comparable column."""
    if isinstance(target_field(field), models.JSONField):
        return pl.String()
    return _DTYPES.get(passthrough_type(field), pl.String())


def canonical_text(value: Any) -> str | None:
    """A text form of a stored value, equal exactly when the stored values are."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        moment: datetime.datetime = value
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.UTC)
        return moment.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


#: Types whose equal values are spelled alike, so converting one value of
#: a type converts every equal one (not so for floats, ``-0.0 == 0.0``, nor
#: for decimals, ``Decimal("1.5") == Decimal("1.50")``).
_DISTINCT_TYPES = frozenset(
    {str, int, bool, bytes, uuid.UUID, datetime.date, datetime.time, datetime.datetime}
)
_CLOCK_TYPES = frozenset({datetime.time, datetime.datetime})


def each_distinct(convert: Callable[[Any], Any], values: Iterable[Any]) -> list[Any]:
    """``convert(value)`` of every value (None stays None), once per distinct value.

    A column of dates, times or timestamps repeats a few thousand values
    over hundreds of thousands of rows, and converting one value the way
    Django stores it costs several Python calls: each distinct value is
    converted once. Only values of the types in ``_DISTINCT_TYPES`` are
    remembered, by type and value; a datetime or time with ``fold=1``
    (equal to its ``fold=0`` twin, but made aware differently), a time with
    a time zone and values of any other type are converted one by one.
    """
    cache: dict[tuple[type, Any], Any] = {}
    converted: list[Any] = []
    append = converted.append
    for value in values:
        if value is None:
            append(None)
            continue
        kind = value.__class__
        if kind not in _DISTINCT_TYPES or (
            kind in _CLOCK_TYPES
            and (value.fold or (kind is datetime.time and value.tzinfo is not None))
        ):
            append(convert(value))
            continue
        key = (kind, value)
        found = cache.get(key, _UNSET)
        if found is _UNSET:
            found = cache[key] = convert(value)
        append(found)
    return converted


_UNSET = object()


def _json_text(field: Any, value: Any) -> str | None:
    if value is None:
        return None
    text: str = json.dumps(
        value, sort_keys=True, cls=field.encoder, separators=(",", ":")
    )
    return text


class FieldValues:
    """Turns one field's values, from the data or from the table, into a column."""

    def __init__(self, field: Any, connection: BaseDatabaseWrapper) -> None:
        """Work out the column type and the read converters of ``field``."""
        self.field = field
        self.connection = connection
        self.dtype = comparable_dtype(field)
        self.target = target_field(field)
        self.is_json = isinstance(self.target, models.JSONField)
        # A plain field stores an int, float, bool or str unchanged: the
        # driver's value is the stored value, no conversion needed.
        self.plain = not self.is_json and passthrough_type(field) in _DTYPES
        col = field.get_col(field.model._meta.db_table)
        self._converters: list[Callable[..., Any]] = [
            *connection.ops.get_db_converters(col),
            *col.get_db_converters(connection),
        ]
        self._col = col

    def from_db_prep(self, values: Sequence[Any]) -> pl.Series:
        """The column of database values (``get_db_prep_save`` results)."""
        if self.plain:
            return self._series(values)
        return pl.Series([canonical_text(value) for value in values], dtype=pl.String())

    def from_python(self, values: Sequence[Any]) -> pl.Series:
        """The column of Python values, as Django would store them."""
        if self.is_json:
            return pl.Series(
                [_json_text(self.target, value) for value in values],
                dtype=pl.String(),
            )
        field, connection = self.field, self.connection
        if self.plain:
            return self._series(
                each_distinct(
                    lambda value: field.get_db_prep_save(
                        field.to_python(value), connection
                    ),
                    values,
                )
            )
        return pl.Series(
            each_distinct(
                lambda value: canonical_text(
                    field.get_db_prep_save(field.to_python(value), connection)
                ),
                values,
            ),
            dtype=pl.String(),
        )

    def from_table(self, values: Sequence[Any]) -> pl.Series:
        """The column of values as read from the table by the driver."""
        if self.plain:
            return self._series(values)
        col, connection = self._col, self.connection
        converters = self._converters
        if self.is_json:
            converted = list(values)
            for converter in converters:
                converted = [
                    None if value is None else converter(value, col, connection)
                    for value in converted
                ]
            return pl.Series(
                [_json_text(self.target, value) for value in converted],
                dtype=pl.String(),
            )
        field = self.field

        def stored(value: Any) -> str | None:
            for converter in converters:
                if value is None:
                    return None
                value = converter(value, col, connection)
            if value is None:
                return None
            return canonical_text(field.get_db_prep_save(value, connection))

        return pl.Series(each_distinct(stored, values), dtype=pl.String())

    def _series(self, values: Sequence[Any]) -> pl.Series:
        if self.dtype == pl.Boolean():
            # SQLite and MariaDB hand back booleans as 0 and 1.
            return pl.Series(values, dtype=pl.Int64(), strict=False).cast(pl.Boolean)
        return pl.Series(values, dtype=self.dtype)


def text_collations(
    connection: BaseDatabaseWrapper, table: str, columns: Sequence[str]
) -> dict[str, str]:
    """``{column: collation}`` of the text ``columns`` whose index may fold them.

    Only MariaDB/MySQL is asked: PostgreSQL's and SQLite's default collations
    compare text byte for byte (a column given a case-insensitive collation
    there is not handled and matches exactly).
    """
    if connection.vendor != "mysql" or not columns:
        return {}
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
            f"AND COLUMN_NAME IN ({marks})",
            [table, *columns],
        )
        found = cursor.fetchall()
    return {column: collation for column, collation in found if collation}


def weight_sql(quote: Callable[[str], str], collation: str, operand: str) -> str:
    """SQL of the collation weight of ``operand``, as the unique index compares.

    ``WEIGHT_STRING`` keeps trailing spaces, which a PAD SPACE collation (all
    of MariaDB's but the ``_nopad_`` ones) ignores: they are trimmed first.
    """
    if "_nopad_" not in collation:
        operand = f"TRIM(TRAILING ' ' FROM {operand})"
    charset = collation.split("_", 1)[0]
    return (
        f"WEIGHT_STRING(CONVERT({operand} USING {charset}) COLLATE {quote(collation)})"
    )


def data_weights(
    connection: BaseDatabaseWrapper, collation: str, values: Sequence[str | None]
) -> pl.Series:
    """The collation weights of ``values``, computed by the database."""
    quote = connection.ops.quote_name
    expression = weight_sql(quote, collation, "%s")
    weights: list[bytes | None] = []
    step = 500
    with connection.cursor() as cursor:
        for start in range(0, len(values), step):
            part = values[start : start + step]
            select = ", ".join([expression] * len(part))
            cursor.execute(f"SELECT {select}", list(part))
            row = cursor.fetchone()
            weights.extend(None if w is None else bytes(w) for w in row)
    return pl.Series(weights, dtype=pl.Binary())
