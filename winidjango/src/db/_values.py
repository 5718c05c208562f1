"""Model instances to database rows, fast where Django's conversion is a no-op.

Django converts every value with ``pre_save`` and ``get_db_prep_save``; for
a ``str`` in a ``CharField`` or an ``int`` in an ``IntegerField`` that chain
returns the value unchanged but costs several calls per value. Such values are
passed through here; everything else (dates, decimals, JSON, custom fields,
``auto_now``, a value of an unexpected type) still takes Django's own path.
Only fields whose conversion methods all come from Django itself qualify, so a
custom field that overrides any of them is always converted by Django.
"""

from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

# Field class -> the value type its conversion returns unchanged.
_PASSTHROUGH = (
    (models.BooleanField, bool),
    (models.CharField, str),
    (models.TextField, str),
    (models.FloatField, float),
    (models.IntegerField, int),
)
_CONVERSION_METHODS = (
    "pre_save",
    "get_db_prep_save",
    "get_db_prep_value",
    "get_prep_value",
    "to_python",
)


_MISSING = object()
_NONE = type(None)


class _NeverPassedThrough:
    """A type no value has: its field always goes through Django."""


def defined_by_django(field: Any) -> bool:
    """Whether every conversion method of ``field``'s class is Django's own.

    Only then is a shortcut around the conversion safe: a custom field that
    overrides any of them expects it to run.
    """
    return all(
        getattr(getattr(type(field), name, None), "__module__", "").startswith(
            "django.db.models.fields"
        )
        for name in _CONVERSION_METHODS
    )


def passthrough_type(field: Any) -> type:
    """The value type ``field`` stores unchanged, or a type no value has."""
    return _passthrough_type(field)


def _passthrough_type(field: Any) -> type:
    if not defined_by_django(field):
        return _NeverPassedThrough
    if field.is_relation:
        if field.many_to_one or field.one_to_one:
            return _passthrough_type(field.target_field)
        return _NeverPassedThrough
    for field_class, value_type in _PASSTHROUGH:
        if isinstance(field, field_class):
            return value_type
    return _NeverPassedThrough


class SqlExpressionFound(Exception):  # noqa: N818 (a signal, not an error)
    """Object ``position`` of a chunk holds an SQL expression as a value."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


class RowConverter:
    """Turns objects into lists of database values for ``fields``."""

    def __init__(
        self, fields: Sequence[Any], connection: BaseDatabaseWrapper, *, add: bool
    ) -> None:
        """Work out once per field which values can skip Django's conversion."""
        self.connection = connection
        self.add = add
        self._attnames = [field.attname for field in fields]
        # Read from the instance __dict__, never through the attribute: a
        # deferred field would load itself with a query, on whatever thread
        # converts the chunk. A missing value takes Django's path instead.
        self._checks = [
            (_passthrough_type(field), field.null, field) for field in fields
        ]

    def rows(self, objs: Sequence[Model]) -> list[tuple[Any, ...]]:
        """The database values of ``objs``, one tuple each.

        Raises :class:`SqlExpressionFound` for a value that is an SQL
        expression (``F("x") + 1``): it has no database value to send.

        Works a column at a time: a column whose values are all of the type
        the field stores unchanged (or None where allowed) is taken as it is,
        which costs one pass over the column instead of several calls per
        value. Only the other values go through Django's conversion.
        """
        states = [obj.__dict__ for obj in objs]
        columns: list[list[Any]] = []
        for attname, (passthrough, nullable, field) in zip(
            self._attnames, self._checks, strict=True
        ):
            try:
                column = [state[attname] for state in states]
            except KeyError:
                column = [state.get(attname, _MISSING) for state in states]
            kinds = set(map(type, column))
            if kinds <= {passthrough} or (nullable and kinds <= {passthrough, _NONE}):
                columns.append(column)
                continue
            for index, value in enumerate(column):
                if type(value) is passthrough or (value is None and nullable):
                    continue
                converted = field.pre_save(objs[index], self.add)
                if hasattr(converted, "resolve_expression"):
                    raise SqlExpressionFound(index)
                column[index] = field.get_db_prep_save(converted, self.connection)
            columns.append(column)
        return list(zip(*columns, strict=True))
