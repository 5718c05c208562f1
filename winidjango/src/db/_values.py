"""Model instances to database rows, fast where Django's conversion is a no-op.

Django turns every value into a database value with ``pre_save`` and
``get_db_prep_save`` (``bulk_create``), or by reading the attribute and
calling ``get_db_prep_save`` (``bulk_update``). For a ``str`` in a
``CharField`` or an ``int`` in an ``IntegerField`` that chain returns the
value unchanged but costs several calls per value. Such values are passed
through here; every other value takes Django's own path.

A value may skip Django only where Django's chain provably returns it
unchanged:

- every conversion method of the field's class is Django's own (a custom
  field that overrides any of them expects it to run);
- the model reads the attribute through Django's plain descriptor (not a
  ``FileField``'s, which turns ``None`` into an empty file, nor a custom one);
- ``pre_save`` is the one that returns the attribute (not ``auto_now`` /
  ``auto_now_add``, not a ``FileField``'s);
- the value is of the type the field stores unchanged (``str`` for text
  fields, ``int`` for integer fields, ...), or it is ``None`` and the field's
  ``get_db_prep_save(None)`` is ``None`` (asked once per field; a Django
  field's answer depends only on the field and the connection);
- an ``int`` for an ``AutoField`` (or a key pointing at one) is not ``0`` on
  a backend that refuses 0 there (MySQL without ``NO_AUTO_VALUE_ON_ZERO``).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute

from winidjango.src.db._validation import input_error

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
# pre_save methods that return the attribute unchanged when the field has
# neither auto_now nor auto_now_add.
_PLAIN_PRE_SAVE = frozenset(
    {
        models.Field.pre_save,
        models.DateField.pre_save,
        models.DateTimeField.pre_save,
        models.TimeField.pre_save,
    }
)
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute)

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


def _reads_plainly(model: type[Model], field: Any) -> bool:
    """Whether ``pre_save`` and the attribute return the ``__dict__`` value."""
    descriptor = getattr(model, field.attname, None)
    if type(descriptor) not in _PLAIN_DESCRIPTORS:
        return False
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return False
    return type(field).pre_save in _PLAIN_PRE_SAVE


def _keeps_none(field: Any, connection: BaseDatabaseWrapper) -> bool:
    """Whether Django's ``get_db_prep_save`` turns ``None`` into ``None``."""
    try:
        return field.get_db_prep_save(None, connection) is None
    except Exception:  # any failure: let Django convert each value
        return False


def _points_at_auto_key(field: Any) -> bool:
    """Whether ``field`` is an ``AutoField`` or a key pointing at one."""
    while field.is_relation and (field.many_to_one or field.one_to_one):
        field = field.target_field
    return isinstance(field, models.AutoField)


@dataclass(frozen=True)
class _Column:
    """How one field's values become database values."""

    field: Any
    attname: str
    #: Value types taken as they are.
    unchanged: frozenset[type]
    #: An int 0 must go through Django, which refuses it (MySQL AutoField).
    zero_refused: bool
    #: Call pre_save (create, and auto_now on update); else read the attribute.
    calls_pre_save: bool


class SqlExpressionFound(Exception):  # noqa: N818 (a signal, not an error)
    """Object ``position`` holds an SQL expression as the value of ``field``."""

    def __init__(self, position: int, field: Any = None, value: Any = None) -> None:
        super().__init__(position)
        self.position = position
        self.field = field
        self.value = value


class RowConverter:
    """Turns objects into lists of database values for ``fields``.

    ``add=True`` converts as Django's ``bulk_create`` does (``pre_save`` with
    ``add=True``, then ``get_db_prep_save``); ``add=False`` as its
    ``bulk_update`` does (the attribute, then ``get_db_prep_save``), except
    that ``auto_now`` fields are refreshed with ``pre_save``, as ``save()``
    would.
    """

    def __init__(
        self,
        model: type[Model],
        fields: Sequence[Any],
        connection: BaseDatabaseWrapper,
        *,
        add: bool,
    ) -> None:
        """Work out once per field which values can skip Django's conversion.

        Runs in the owning thread: whether MySQL accepts 0 in an
        ``AutoField`` is read from the server once.
        """
        self.model = model
        self.connection = connection
        self.add = add
        zero_refused = not connection.features.allows_auto_pk_0
        self._columns: list[_Column] = []
        for field in fields:
            unchanged: set[type] = set()
            if _reads_plainly(model, field):
                kind = _passthrough_type(field)
                if kind is not _NeverPassedThrough:
                    unchanged.add(kind)
                if defined_by_django(field) and _keeps_none(field, connection):
                    unchanged.add(_NONE)
            self._columns.append(
                _Column(
                    field=field,
                    attname=field.attname,
                    unchanged=frozenset(unchanged),
                    zero_refused=zero_refused and _points_at_auto_key(field),
                    calls_pre_save=add or bool(getattr(field, "auto_now", False)),
                )
            )

    def rows(
        self,
        objs: Sequence[Model],
        row_of: Callable[[int], int] | None = None,
    ) -> list[tuple[Any, ...]]:
        """The database values of ``objs``, one tuple each.

        ``row_of(index)`` is the 1-based bulk row of ``objs[index]``, for
        error messages (default: ``index + 1``).

        Raises :class:`SqlExpressionFound` for a value that is an SQL
        expression (``F("x") + 1``): it has no database value to send; and
        :class:`~winidjango.src.db.exceptions.BulkInputError` for a value
        Django's conversion refuses, naming field, row and value.

        Works a column at a time: a column whose values are all of types the
        field stores unchanged is taken as it is, which costs one pass over
        the column instead of several calls per value. Only the other values
        go through Django's conversion.
        """
        states = [obj.__dict__ for obj in objs]
        columns: list[list[Any]] = []
        for spec in self._columns:
            attname = spec.attname
            # Read from the instance __dict__, never through the attribute: a
            # deferred field would load itself with a query, on whatever
            # thread converts the chunk. A missing value takes Django's path.
            try:
                column = [state[attname] for state in states]
            except KeyError:
                column = [state.get(attname, _MISSING) for state in states]
            unchanged = spec.unchanged
            if set(map(type, column)) <= unchanged and not (
                spec.zero_refused and 0 in column
            ):
                columns.append(column)
                continue
            for index, value in enumerate(column):
                if type(value) in unchanged and not (spec.zero_refused and value == 0):
                    continue
                column[index] = self._convert(spec, objs[index], index, row_of)
            columns.append(column)
        if not columns:
            return [() for _ in objs]
        return list(zip(*columns, strict=True))

    def find_refusal(
        self, objs: Sequence[Model], row_of: Callable[[int], int] | None = None
    ) -> None:
        """Raise the :class:`BulkInputError` for the first value Django refuses.

        For a batch Django's compiler failed on: converts value by value,
        skipping SQL expressions, to name the field, row and value at fault.
        Returns if every value converts.
        """
        for index, obj in enumerate(objs):
            for spec in self._columns:
                try:
                    self._convert(spec, obj, index, row_of)
                except SqlExpressionFound:
                    continue

    def _convert(
        self,
        spec: _Column,
        obj: Model,
        index: int,
        row_of: Callable[[int], int] | None,
    ) -> Any:
        """One value through Django's chain; its refusal as a BulkInputError."""
        field = spec.field
        value: Any = None
        try:
            if spec.calls_pre_save:
                value = field.pre_save(obj, self.add)
            else:
                value = getattr(obj, spec.attname)
            if hasattr(value, "resolve_expression"):
                raise SqlExpressionFound(index, field, value)
            return field.get_db_prep_save(value, self.connection)
        except (ValueError, TypeError, ValidationError) as error:
            row = row_of(index) if row_of is not None else index + 1
            reason = "; ".join(getattr(error, "messages", [str(error)]))
            raise input_error(
                self.model,
                f"Django refuses the value: {reason}",
                field=field.name,
                row=row,
                value=obj.__dict__.get(spec.attname, value),
                type_error=isinstance(error, TypeError),
            ) from error
