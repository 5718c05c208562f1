"""Sync a table with data: create what is new, update what changed, delete the rest.

A sync is planned first and applied second. :func:`plan_sync` reads only the
key and compared columns of the table, in chunks, into polars, joins them to
the data there and writes nothing; the :class:`SyncPlan` it returns says how
many rows would be created, updated, left unchanged and deleted, which fields
change (with sample keys and before/after values) and what the deletions
would cascade to. :meth:`SyncPlan.apply` then writes exactly that, in one
transaction, through the bulk fast paths, or refuses with
:class:`~winidjango.src.db.exceptions.StalePlanError` if the table changed
since it was planned. :func:`sync` does both in one call.

Rules that keep a daily sync safe:

- the key must be one the database enforces as unique, and keys match as the
  database's unique index matches them (on MariaDB, a case- or
  accent-insensitive collation makes ``"ann"`` update the row ``"Ann"``);
- values are compared as Django would store them (``Decimal("1.50")`` equals
  ``"1.5"`` in a decimal field), and unchanged rows get no UPDATE at all, so
  their ``auto_now`` timestamps keep their values;
- ``delete`` deletes rows whose key is not in the data, in the whole table or
  only in a scope (a queryset or ``Q``): one tenant's rows, one source's rows.
"""

import logging
import operator
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter, itemgetter, methodcaller
from typing import Any

import polars as pl
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BinaryField, Model, Q, QuerySet
from django.db.models.deletion import Collector
from django.db.models.expressions import RawSQL

from winidjango.src.db._backends import get_writer
from winidjango.src.db._backends.base import plain_integers
from winidjango.src.db._delete import DeletePlan, sum_delete_counts
from winidjango.src.db._frame import FramePlan
from winidjango.src.db._sync_delete import count_deletion
from winidjango.src.db._sync_values import (
    FieldValues,
    data_weights,
    each_distinct,
    text_collations,
    weight_sql,
)
from winidjango.src.db._validation import check_instances, check_model, check_step
from winidjango.src.db._values import passthrough_type
from winidjango.src.db.exceptions import BulkInputError, StalePlanError
from winidjango.src.db.fields import get_model_meta
from winidjango.src.db.models import topological_sort_models

__all__ = [
    "SyncBulksPlan",
    "SyncPlan",
    "SyncResult",
    "plan_sync",
    "plan_sync_bulks",
    "sync",
]

logger = logging.getLogger(__name__)

type DeleteScope = bool | QuerySet[Any] | Q
"""``False``, ``True`` (the whole table) or the rows that may be deleted."""

#: Rows read per query when the whole table (or scope) is read.
_PAGE = 50_000
#: Sample keys kept per changed field, and for deletions.
_SAMPLES = 5
_PK = "__pk"
_MISSING = object()
_ROW = "__row"
_OLD = "__old"


def _consume(iterator: Iterable[Any]) -> None:
    """Run ``iterator`` to its end at C speed, keeping nothing."""
    deque(iterator, maxlen=0)


class _Pending:
    """The key of a parent object that the same sync creates: unknown yet."""

    def __repr__(self) -> str:
        return "<new>"


_PENDING = _Pending()


@dataclass(frozen=True)
class SyncResult:
    """What :meth:`SyncPlan.apply` wrote.

    Attributes:
        model: the synced model.
        created, updated, unchanged, deleted: rows of ``model`` itself.
        deleted_by_model: ``{model label: rows}`` removed by the deletions,
            the model's own rows and every cascade.

    Examples:
        >>> result = sync(Author, [Author(name="Ann")], key="name")
        >>> (result.created, result.updated, result.unchanged, result.deleted)
        (1, 0, 0, 0)
    """

    model: type[Model]
    created: int
    updated: int
    unchanged: int
    deleted: int
    deleted_by_model: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        """One line, e.g. ``library.Book: 3 created, 2 updated, ...``."""
        return (
            f"{get_model_meta(self.model).label}: {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deleted} deleted"
        )


# -- arguments -------------------------------------------------------------


def _database_for(model: type[Model], using: str | None) -> str:
    return using if using is not None else router.db_for_write(model)


def _unique_sets(model: type[Model]) -> list[frozenset[str]]:
    """The field sets the database enforces as unique (without conditions)."""
    meta = get_model_meta(model)
    sets = [frozenset([f.name]) for f in meta.concrete_fields if f.unique]
    sets += [frozenset(names) for names in meta.unique_together]
    sets += [frozenset(c.fields) for c in meta.total_unique_constraints if c.fields]
    return sets


def _resolve_key(model: type[Model], key: str | Sequence[str]) -> list[Any]:
    names = [key] if isinstance(key, str) else list(key)
    if not names:
        message = f"{model.__name__}: key must name at least one field"
        raise ValueError(message)
    meta = get_model_meta(model)
    fields = []
    for name in names:
        try:
            found: Any = meta.get_field(name)
        except FieldDoesNotExist:
            message = f"{model.__name__} has no field named {name!r} (key)"
            raise ValueError(message) from None
        if not getattr(found, "concrete", False) or found.many_to_many:
            message = f"{model.__name__}.{name} is not a column; it cannot be a key"
            raise ValueError(message)
        fields.append(found)
    wanted = frozenset(f.name for f in fields)
    if wanted not in _unique_sets(model):
        enforced = sorted(
            "(" + ", ".join(sorted(s)) + ")" for s in set(_unique_sets(model))
        )
        message = (
            f"{model.__name__}: the key ({', '.join(sorted(wanted))}) is not unique "
            "in the database, so one key could match several rows; a sync key "
            "must be a unique field, a UniqueConstraint without condition or a "
            "unique_together of exactly these fields. Unique in "
            f"{model.__name__}: {', '.join(enforced) or 'nothing but the pk'}"
        )
        raise ValueError(message)
    return fields


def _is_timestamp(field: Any) -> bool:
    return bool(
        getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    )


def _resolve_fields(
    model: type[Model],
    names: Sequence[str] | None,
    key_fields: list[Any],
    frame_fields: list[Any] | None,
) -> list[Any]:
    """The compared (and written) fields; see :func:`plan_sync`."""
    meta = get_model_meta(model)
    if names is None:
        candidates = frame_fields if frame_fields is not None else meta.concrete_fields
        return [
            f
            for f in candidates
            if f not in key_fields
            and not f.primary_key
            and not _is_timestamp(f)
            and not getattr(f, "generated", False)
        ]
    if isinstance(names, str):
        message = "fields must be a list of field names, not a string"
        raise TypeError(message)
    fields = []
    for name in dict.fromkeys(names):
        try:
            found: Any = meta.get_field(name)
        except FieldDoesNotExist:
            message = f"{model.__name__} has no field named {name!r} (fields)"
            raise ValueError(message) from None
        why = None
        if not getattr(found, "concrete", False) or found.many_to_many:
            why = "is not a column of the table"
        elif found.primary_key:
            why = "is the primary key"
        elif found in key_fields:
            why = "is part of the key, which is matched, not compared"
        elif _is_timestamp(found):
            why = "is set by Django on save (auto_now/auto_now_add), never compared"
        elif getattr(found, "generated", False):
            why = "is generated by the database"
        elif frame_fields is not None and found not in frame_fields:
            why = "has no column in the frame"
        if why:
            message = f"{model.__name__}.{name} {why}; leave it out of fields"
            raise ValueError(message)
        fields.append(found)
    return fields


def _frame_fields(model: type[Model], df: pl.DataFrame) -> dict[str, Any]:
    """``{frame column: field}``: a column names a field by name or attname."""
    meta = get_model_meta(model)
    by_name: dict[str, Any] = {}
    for concrete in meta.concrete_fields:
        by_name[concrete.name] = concrete
        by_name[concrete.attname] = concrete
    mapped = {}
    for column in df.columns:
        found = by_name.get(column)
        if found is None:
            message = f"column {column!r} is not a field of {model.__name__}"
            raise BulkInputError(message, model=model, field=column)
        mapped[column] = found
    return mapped


class _FrameColumnsPlan(FramePlan):
    """A :class:`FramePlan` of the frame's own columns: nothing is filled in."""

    def _missing(self, field: Any) -> Any:
        return None


def _delete_scope(
    model: type[Model], delete: object, alias: str
) -> tuple[bool, QuerySet[Any] | None]:
    """``(deletes at all, the queryset limiting them or None)``."""
    if delete is False or delete is None:
        return False, None
    if delete is True:
        return True, None
    manager = model._base_manager.using(alias)
    if isinstance(delete, Q):
        return True, manager.filter(delete)
    if isinstance(delete, QuerySet):
        concrete = get_model_meta(model).concrete_model
        if get_model_meta(delete.model).concrete_model is not concrete:
            message = (
                f"delete= is a queryset of {delete.model.__name__}, not of "
                f"{model.__name__}"
            )
            raise TypeError(message)
        return True, delete.using(alias)
    message = f"delete must be False, True, a Q or a queryset, not {delete!r}"
    raise TypeError(message)


# -- the data ----------------------------------------------------------------


class _Data:
    """The data of a sync: key, match and compared columns in one frame."""

    def __init__(  # noqa: PLR0917
        self,
        model: type[Model],
        data: object,
        key_fields: list[Any],
        field_names: Sequence[str] | None,
        connection: BaseDatabaseWrapper,
        parent_keys: Mapping[int, Any],
    ) -> None:
        self.model = model
        self.connection = connection
        self.objects: list[Model] | None = None
        self.frame: pl.DataFrame | None = None
        self.key_fields = key_fields
        if isinstance(data, pl.LazyFrame):
            message = f"sync of {model.__name__}: collect() the LazyFrame first"
            raise TypeError(message)
        if isinstance(data, pl.DataFrame):
            self.frame = data
            self.columns = _frame_fields(model, data)
            given = list(dict.fromkeys(self.columns.values()))
            for key_field in key_fields:
                if key_field not in given:
                    message = (
                        f"the frame has no column for the key field "
                        f"{model.__name__}.{key_field.name}"
                    )
                    raise BulkInputError(message, model=model, field=key_field.name)
            self.fields = _resolve_fields(model, field_names, key_fields, given)
            self.height = data.height
        else:
            if isinstance(data, (str, bytes, Mapping)) or not isinstance(
                data, Iterable
            ):
                message = (
                    f"sync of {model.__name__} takes model instances or a polars "
                    f"DataFrame, not {type(data).__name__}"
                )
                raise TypeError(message)
            self.objects = list(data)
            check_instances(model, self.objects, offset=1)
            self.dicts = list(map(vars, self.objects))
            self.fields = _resolve_fields(model, field_names, key_fields, None)
            self.height = len(self.objects)
        self.values = {
            f: FieldValues(f, connection) for f in [*key_fields, *self.fields]
        }
        self.pending: dict[str, pl.Series] = {}
        self.lookups: list[list[Any]] = []
        self.table = self._build(parent_keys)

    # The frame: __row, k0.., c_<attname>.., (p_<attname> pending flags)
    def _build(self, parent_keys: Mapping[int, Any]) -> pl.DataFrame:
        columns: list[pl.Series] = [
            pl.Series(_ROW, range(self.height), dtype=pl.Int64())
        ]
        wanted = [*self.key_fields, *self.fields]
        if self.objects is not None:
            raw = self._object_columns(wanted, parent_keys)
            for index, f in enumerate(wanted):
                values = self.values[f]
                if values.is_json:
                    # JSON compares by content, not by the text Django sends.
                    python = [getattr(obj, f.attname) for obj in self.objects]
                    series = values.from_python(python)
                else:
                    series = values.from_db_prep(raw[index])
                columns.append(series.alias(self._name(f)))
            # Rows whose key holds a new parent (None) are never looked up.
            self.lookups = raw[: len(self.key_fields)]
        else:
            assert self.frame is not None
            by_field = {f: column for column, f in self.columns.items()}
            for f in wanted:
                series = self.frame.get_column(by_field[f])
                columns.append(self._frame_column(f, series).alias(self._name(f)))
            self.lookups = [
                self._db_values(f, self.frame.get_column(by_field[f]).to_list())
                for f in self.key_fields
            ]
        return pl.DataFrame(columns)

    def _db_values(self, f: Any, values: list[Any]) -> list[Any]:
        """What the database is sent for ``values`` of ``f`` (for lookups)."""
        if self.values[f].plain:
            return values
        connection = self.connection
        return each_distinct(
            lambda v: f.get_db_prep_save(f.to_python(v), connection), values
        )

    def _name(self, f: Any) -> str:
        if f in self.key_fields:
            return f"k{self.key_fields.index(f)}"
        return f"c_{f.attname}"

    def _frame_column(self, f: Any, series: pl.Series) -> pl.Series:
        values = self.values[f]
        if values.plain and series.dtype != pl.Object:
            try:
                return series.cast(values.dtype)
            except pl.exceptions.InvalidOperationError:
                pass
        return values.from_python(series.to_list())

    def _object_columns(
        self, fields: list[Any], parent_keys: Mapping[int, Any]
    ) -> list[list[Any]]:
        """The database values of the objects' ``fields``, one list per field."""
        assert self.objects is not None
        objs = self.objects
        overrides: dict[int, dict[int, Any]] = {}
        for index, f in enumerate(fields):
            if not (f.many_to_one or f.one_to_one):
                continue
            found = self._related_values(f, parent_keys)
            if found:
                overrides[index] = found
        columns = [self._object_column(f, objs) for f in fields]
        for index, found in overrides.items():
            column = columns[index]
            flags = [False] * len(objs)
            for position, value in found.items():
                pending = value is _PENDING
                column[position] = None if pending else value
                flags[position] = pending
            if any(flags):
                self.pending[fields[index].attname] = pl.Series(flags)
        return columns

    def _object_column(self, f: Any, objs: list[Model]) -> list[Any]:
        """The database values of ``f`` of every object, a column at a time.

        As in the bulk writers: a column whose values all have the type the
        field stores unchanged is taken as it is; the other values go
        through ``pre_save`` and ``get_db_prep_save``.
        """
        attname = f.attname
        dicts = self.dicts
        try:
            column = list(map(itemgetter(attname), dicts))
        except KeyError:
            column = list(map(methodcaller("get", attname, _MISSING), dicts))
        plain = passthrough_type(f)
        kinds = set(map(type, column))
        if kinds <= {plain} or (f.null and kinds <= {plain, type(None)}):
            return column
        connection = self.connection
        for position, value in enumerate(column):
            if type(value) is plain or (value is None and f.null):
                continue
            converted = f.pre_save(objs[position], False)
            if hasattr(converted, "resolve_expression"):
                message = (
                    f"object {position + 1} of the {self.model.__name__} data holds "
                    f"an SQL expression in {f.name!r}; a sync compares plain values"
                )
                raise BulkInputError(
                    message, model=self.model, field=f.name, row=position + 1
                )
            column[position] = f.get_db_prep_save(converted, connection)
        return column

    def _related_values(self, f: Any, parent_keys: Mapping[int, Any]) -> dict[int, Any]:
        """Related ids of objects given a parent object, by position."""
        assert self.objects is not None
        cache_name, attname = f.cache_name, f.attname
        target = f.target_field
        found: dict[int, Any] = {}
        for position, obj in enumerate(self.objects):
            related = obj._state.fields_cache.get(cache_name)
            if related is None or obj.__dict__.get(attname) not in (None, ""):
                continue
            if related._is_pk_set():
                found[position] = target.get_db_prep_save(
                    getattr(related, target.attname), self.connection
                )
            elif id(related) in parent_keys:
                value = parent_keys[id(related)]
                found[position] = value if target.primary_key else _PENDING
            else:
                message = (
                    f"object {position + 1} of the {self.model.__name__} data points "
                    f"to an unsaved {type(related).__name__} through "
                    f"{f.name!r} that this sync does not create; save it or sync "
                    f"both models with plan_sync_bulks()"
                )
                raise BulkInputError(
                    message, model=self.model, field=f.name, row=position + 1
                )
        return found


# -- the plan ----------------------------------------------------------------


class SyncPlan:
    """What a sync of one model would write; :meth:`apply` writes it.

    Attributes:
        model: the synced model.
        key: the key field names.
        fields: the compared (and, for updated rows, written) field names.
        to_create, to_update, unchanged, to_delete: rows of ``model``.
        field_changes: ``{field name: rows whose value changes}``.
        samples: ``{field name: [(key, before, after), ...]}``, a few per
            changed field; values as the database stores them.
        create_samples, delete_samples: a few keys of rows created and deleted.
        cascade: ``{model label: rows}`` the deletions remove, the model's own
            rows and every cascade, counted with COUNT queries.
        blockers: ``{model label: rows}`` whose ``PROTECT``/``RESTRICT``
            relation would refuse the deletions; ``blocker_samples`` holds a
            few of their primary keys.

    Examples:
        >>> plan = plan_sync(Author, authors, key="name", delete=True)
        >>> plan.to_update, plan.field_changes
        (1, {'birth_year': 1})
        >>> print(plan)
        library.Author (key: name): 1 to create, 1 to update, 1 unchanged, ...
          birth_year: 1 changed (e.g. 'Bob': 1960 -> 1961)
          ...
    """

    def __init__(self, model: type[Model], alias: str) -> None:
        """An empty plan; :func:`plan_sync` fills it in."""
        self.model = model
        self.alias = alias
        self.key: tuple[str, ...] = ()
        self.fields: tuple[str, ...] = ()
        self.to_create = 0
        self.to_update = 0
        self.unchanged = 0
        self.to_delete = 0
        self.field_changes: dict[str, int] = {}
        self.samples: dict[str, list[tuple[tuple[Any, ...], Any, Any]]] = {}
        self.create_samples: list[tuple[Any, ...]] = []
        self.delete_samples: list[tuple[Any, ...]] = []
        self.cascade: dict[str, int] = {}
        self.blockers: dict[str, int] = {}
        self.blocker_samples: dict[str, list[Any]] = {}
        self._applied = False
        self._step = 1000
        self._saved_states = []

    # -- summary ---------------------------------------------------------------

    def __str__(self) -> str:
        """A readable summary: counts, changed fields, cascades and blockers."""
        label = get_model_meta(self.model).label
        lines = [
            f"{label} (key: {', '.join(self.key)}): {self.to_create} to create, "
            f"{self.to_update} to update, {self.unchanged} unchanged, "
            f"{self.to_delete} to delete"
        ]
        for name, count in self.field_changes.items():
            if not count:
                continue
            examples = "; ".join(
                f"{_key_text(key)}: {before!r} -> {after!r}"
                for key, before, after in self.samples.get(name, [])[:3]
            )
            lines.append(f"  {name}: {count} changed (e.g. {examples})")
        if self.create_samples:
            keys = ", ".join(_key_text(key) for key in self.create_samples)
            lines.append(f"  new keys, e.g. {keys}")
        if self.delete_samples:
            keys = ", ".join(_key_text(key) for key in self.delete_samples)
            lines.append(f"  keys to delete, e.g. {keys}")
        if self.cascade:
            removed = ", ".join(
                f"{name} {count}" for name, count in self.cascade.items()
            )
            lines.append(f"  deleting removes: {removed}")
        if self.blockers:
            blocked = ", ".join(
                f"{name} {count} (e.g. pk {self.blocker_samples.get(name, [])})"
                for name, count in self.blockers.items()
            )
            lines.append(f"  deleting is blocked (PROTECT/RESTRICT) by: {blocked}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """``<SyncPlan app.Model: +create ~update =unchanged -delete>``."""
        label = get_model_meta(self.model).label
        return (
            f"<SyncPlan {label}: +{self.to_create} ~{self.to_update} "
            f"={self.unchanged} -{self.to_delete}>"
        )

    # -- applying --------------------------------------------------------------

    def apply(self) -> SyncResult:
        """Write the plan in one transaction and return what was written.

        Inside a caller's ``transaction.atomic()`` it joins that transaction.
        Before the first write, every row the plan read is read again (locked
        with ``SELECT ... FOR UPDATE`` where the database has it) and
        compared with what the plan saw. A row that appeared with a key the
        plan creates is found by the ``INSERT`` itself (the key's unique
        index refuses it), and the whole apply is rolled back.

        Raises:
            StalePlanError: a row the plan read changed or vanished, or a row
                appeared with a key the plan creates; nothing was written.
            ProtectedError, RestrictedError: the deletions are blocked;
                nothing was written.
            RuntimeError: the plan was applied already.

        Examples:
            >>> plan = plan_sync(Author, authors, key=["name"])
            >>> result = plan.apply()
            >>> result.created == plan.to_create
            True
        """
        return self._apply(full_check=True)

    def _apply(self, *, full_check: bool) -> SyncResult:
        self._start()
        try:
            with transaction.atomic(using=self.alias):
                self._check_fresh(full=full_check)
                deleted, by_model = self._write_deletes()
                created, updated = self._write_upserts()
        except BaseException:
            # Rolled back (a deferred foreign key may fail at the commit).
            self._restore_objects()
            raise
        return SyncResult(
            self.model, created, updated, self.unchanged, deleted, by_model
        )

    def _start(self) -> None:
        if self._applied:
            message = f"this {type(self).__name__} was applied already; plan again"
            raise RuntimeError(message)
        self._applied = True

    # Filled in by _plan():
    _data: _Data
    _key_fields: list[Any]
    _fields: list[Any]
    _create_rows: list[int]
    _update: pl.DataFrame  # __row, __pk
    _unchanged: pl.DataFrame  # __row, __pk
    _delete_pks: list[Any]
    _snapshot: pl.DataFrame  # __pk, k*, c_* as read
    _reader: "_Reader"
    _saved_states: list[tuple[list[Model], list[Any], list[bool], list[Any]]]

    def _check_fresh(self, *, full: bool) -> None:
        """Raise StalePlanError if the rows the plan relies on changed."""
        reader = self._reader
        snapshot = self._snapshot
        if not full:
            written = pl.concat(
                [
                    self._update.get_column(_PK),
                    pl.Series(_PK, self._delete_pks, dtype=snapshot.schema[_PK]),
                ]
            )
            snapshot = snapshot.filter(pl.col(_PK).is_in(written.implode()))
        pks = snapshot.get_column(_PK).to_list()
        current = reader.read_pks(pks, lock=True)
        if pks:
            joined = snapshot.join(current, on=_PK, how="left", suffix=_OLD)
            columns = [c for c in snapshot.columns if c != _PK]
            differs = pl.lit(value=False)
            for column in columns:
                differs = differs | ~pl.col(column).eq_missing(pl.col(column + _OLD))
            changed = joined.filter(differs)
            keys = [c for c in columns if c.startswith("k")]
            if changed.height:
                self._raise_stale(
                    f"{changed.height} row(s) changed or vanished since the plan",
                    [tuple(row) for row in changed.select(keys).head(_SAMPLES).rows()],
                )
        if self._create_rows and not self._inserts_refuse_taken_keys():
            self._refuse_appeared(lock=True)

    def _inserts_refuse_taken_keys(self) -> bool:
        """Whether an INSERT of a key a row holds already fails at once.

        Then no key is looked up before the creates: the unique index itself
        compares the created keys with every row (see :meth:`_create`). Only
        a PostgreSQL constraint declared ``deferrable`` checks at the commit.
        """
        connection = connections[self.alias]
        if not connection.features.supports_deferrable_unique_constraints:
            return True
        meta = get_model_meta(self.model)
        wanted = frozenset(f.name for f in self._key_fields)
        if len(wanted) == 1 and self._key_fields[0].unique:
            return True
        if wanted in (frozenset(names) for names in meta.unique_together):
            return True
        return any(
            frozenset(c.fields) == wanted and c.deferrable is None
            for c in meta.total_unique_constraints
        )

    def _refuse_appeared(self, *, lock: bool) -> None:
        """Raise StalePlanError if a row holds a key the plan creates."""
        lookups = [
            [column[row] for row in self._create_rows] for column in self._data.lookups
        ]
        appeared = self._reader.read_keys(lookups, lock=lock)
        if appeared.height:
            keys = [c for c in appeared.columns if c.startswith("k")]
            self._raise_stale(
                f"{appeared.height} row(s) appeared with keys the plan creates",
                [tuple(row) for row in appeared.select(keys).head(_SAMPLES).rows()],
            )

    def _create(self, write: Callable[[], int]) -> int:
        """Run ``write`` (the creates) in a savepoint; return its row count.

        A row that appeared since the plan with a key the plan creates makes
        the INSERT fail on the unique index, which compares as the database
        does (its collation included). Only then are the created keys looked
        up, to tell a stale plan (StalePlanError) from another refusal (the
        IntegrityError itself). The savepoint keeps the connection usable
        for that look-up on PostgreSQL.
        """
        try:
            with transaction.atomic(using=self.alias):
                return write()
        except IntegrityError as error:
            try:
                self._refuse_appeared(lock=False)
            except StalePlanError as stale:
                raise stale from error
            raise

    def _raise_stale(self, why: str, keys: list[tuple[Any, ...]]) -> None:
        label = get_model_meta(self.model).label
        message = (
            f"{label}: {why} (e.g. key {', '.join(_key_text(k) for k in keys)}); "
            "nothing was written, plan again"
        )
        raise StalePlanError(message, model=self.model, keys=keys)

    def _write_deletes(self) -> tuple[int, dict[str, int]]:
        if not self._delete_pks:
            return 0, {}
        alias = self.alias
        connection = connections[alias]
        plan = DeletePlan(self.model, alias, connection)
        label = get_model_meta(self.model).label
        results = []
        pk_field = plan.pk_field
        for start in range(0, len(self._delete_pks), self._step):
            chunk = self._delete_pks[start : start + self._step]
            if plan.fast:
                keys = (
                    chunk
                    if plain_integers(chunk)
                    else [
                        pk_field.get_db_prep_value(pk_field.to_python(k), connection)
                        for k in chunk
                    ]
                )
                with connection.cursor() as cursor:
                    deleted = plan.writer.delete_rows(
                        cursor, plan.table, plan.pk_column, keys
                    )
                results.append((deleted, {label: deleted}))
            else:
                queryset = self.model._base_manager.using(alias).filter(
                    pk__in=[pk_field.to_python(k) for k in chunk]
                )
                collector = Collector(using=alias, origin=queryset)
                collector.collect(queryset)
                results.append(collector.delete())
        _, by_model = sum_delete_counts(results)
        return by_model.get(label, 0), by_model

    def _write_upserts(self) -> tuple[int, int]:
        if self._data.objects is not None:
            return self._write_objects()
        return self._write_frame()

    def _mark_saved(self) -> None:
        """Give the data's objects of existing rows their primary keys.

        Done with ``map`` over the objects' ``__dict__`` and ``_state``
        (C-speed loops): for a million objects a Python loop here cost as
        much as the whole diff. What they held before is kept, so that a
        failed apply() can put it back.
        """
        objs = self._data.objects
        assert objs is not None
        pk_field = get_model_meta(self.model).pk
        assert pk_field is not None
        attname = pk_field.attname
        rows: list[int] = []
        pks: list[Any] = []
        for part in (self._update, self._unchanged):
            rows += part.get_column(_ROW).to_list()
            pks += part.get_column(_PK).to_list()
        if not plain_integers(pks):
            pks = [pk_field.to_python(pk) for pk in pks]
        marked = list(map(objs.__getitem__, rows))
        dicts = list(map(vars, marked))
        states = list(map(attrgetter("_state"), marked))
        self._remember(marked, dicts, states)
        _consume(map(operator.setitem, dicts, repeat(attname), pks))
        _consume(map(setattr, states, repeat("adding"), repeat(False)))
        _consume(map(setattr, states, repeat("db"), repeat(self.alias)))

    def _remember(
        self, objs: list[Model], dicts: list[dict[str, Any]], states: list[Any]
    ) -> None:
        """Keep the keys and states of ``objs``, for :meth:`_restore_objects`."""
        pk_field = get_model_meta(self.model).pk
        assert pk_field is not None
        self._saved_states.append(
            (
                objs,
                list(map(methodcaller("get", pk_field.attname), dicts)),
                list(map(attrgetter("adding"), states)),
                list(map(attrgetter("db"), states)),
            )
        )

    def _restore_objects(self) -> None:
        """Make the objects look as before a failed apply() (rolled back)."""
        pk_field = get_model_meta(self.model).pk
        assert pk_field is not None
        for marked, pks, adding, dbs in self._saved_states:
            for obj, pk, was_adding, db in zip(marked, pks, adding, dbs, strict=True):
                obj.__dict__[pk_field.attname] = pk
                obj._state.adding = was_adding
                obj._state.db = db
        self._saved_states = []

    def _write_objects(self) -> tuple[int, int]:
        # bulk.py re-exports this module: imported here, not at the top.
        from winidjango.src.db.bulk import (  # noqa: PLC0415
            bulk_create_in_steps,
            bulk_update_in_steps,
        )

        objs = self._data.objects
        assert objs is not None
        self._mark_saved()
        updated = 0
        update_objs = [objs[row] for row in self._update.get_column(_ROW).to_list()]
        if update_objs and self._fields:
            updated = bulk_update_in_steps(
                self.model,
                update_objs,
                [f.name for f in self._fields],
                self._step,
                using=self.alias,
            )
        created = 0
        if self._create_rows:
            new = list(map(objs.__getitem__, self._create_rows))
            self._remember(
                new, list(map(vars, new)), list(map(attrgetter("_state"), new))
            )
            created = self._create(
                lambda: len(
                    bulk_create_in_steps(self.model, new, self._step, using=self.alias)
                )
            )
        return created, updated

    def _write_frame(self) -> tuple[int, int]:
        from winidjango.src.db.bulk import bulk_create_from_frame  # noqa: PLC0415

        frame = self._data.frame
        assert frame is not None
        updated = 0
        if self._update.height and self._fields:
            updated = self._update_from_frame(frame)
        created = 0
        if self._create_rows:
            created = self._create(
                lambda: bulk_create_from_frame(
                    self.model, frame[self._create_rows], self._step, using=self.alias
                )
            )
        return created, updated

    def _update_from_frame(self, frame: pl.DataFrame) -> int:
        """One joined UPDATE per statement-sized part, as bulk updates do."""
        model, alias = self.model, self.alias
        connection = connections[alias]
        writer = get_writer(connection)
        meta = get_model_meta(model)
        assert meta.pk is not None
        rows_index = self._update.get_column(_ROW).to_list()
        by_field = {f: column for column, f in self._data.columns.items()}
        names = [by_field[f] for f in self._fields]
        part = frame[rows_index].select(names)
        prepared = _FrameColumnsPlan(model, part, connection)
        fields_by_column = {f.column: f for f in meta.concrete_fields}
        columns = list(prepared.columns)
        fields = [fields_by_column[c] for c in columns]
        constants: list[Any] = []
        for f in meta.local_concrete_fields:
            if getattr(f, "auto_now", False) and f not in fields:
                value = f.pre_save(model(), add=False)
                constants.append(f.get_db_prep_save(value, connection))
                fields.append(f)
                columns.append(str(f.column))
        values = [
            row
            for chunk in prepared.chunks(len(rows_index) or 1)
            for row in prepared.rows(chunk)
        ]
        pks = self._update.get_column(_PK).to_list()
        rows = [[pk, *row, *constants] for pk, row in zip(pks, values, strict=True)]
        casts = [writer.value_cast(f.db_type(connection)) for f in [meta.pk, *fields]]
        limit = writer.max_params_per_statement()
        per_statement = (
            self._step if limit is None else max((limit - 1) // (len(fields) + 1), 1)
        )
        per_statement = min(per_statement, self._step)
        updated = 0
        # update_statements, not update_statement: MariaDB's writer splits by
        # the server's packet size and the fallback writes a row at a time.
        statements = writer.update_statements(
            meta.db_table,
            str(meta.pk.column),
            columns,
            casts,
            rows,
            max_rows=per_statement,
        )
        with connection.cursor() as cursor, writer.planner_settings(cursor):
            for sql, params in statements:
                cursor.execute(sql, params)
                updated += cursor.rowcount
        return updated


def _key_text(key: tuple[Any, ...]) -> str:
    return repr(key[0]) if len(key) == 1 else repr(key)


# -- reading the table ---------------------------------------------------------


class _Reader:
    """Reads pk, key and compared columns of a model's rows into polars."""

    def __init__(  # noqa: PLR0917
        self,
        model: type[Model],
        alias: str,
        key_fields: list[Any],
        fields: list[Any],
        values: dict[Any, FieldValues],
        step: int,
    ) -> None:
        self.model = model
        self.alias = alias
        self.connection = connections[alias]
        self.key_fields = key_fields
        self.fields = fields
        self.values = values
        self.step = step
        meta = get_model_meta(model)
        assert meta.pk is not None
        self.pk_field = meta.pk
        self.pk_values = FieldValues(meta.pk, self.connection)
        self.collations = text_collations(
            self.connection, meta.db_table, [f.column for f in key_fields]
        )
        quote = self.connection.ops.quote_name
        self.weights: dict[str, Any] = {}
        for index, f in enumerate(key_fields):
            collation = self.collations.get(f.column)
            # A single-column key is matched without reading every row's
            # weight: see _respell_folded_keys().
            if collation is not None and len(key_fields) > 1:
                operand = f"{quote(meta.db_table)}.{quote(f.column)}"
                self.weights[f"_w{index}"] = RawSQL(
                    weight_sql(quote, collation, operand),
                    [],
                    output_field=BinaryField(),
                )
        self._select: str | None = None
        self.names = [
            meta.pk.attname,
            *[f.attname for f in key_fields],
            *[f.attname for f in fields],
            *self.weights,
        ]

    @property
    def manager(self) -> QuerySet[Any]:
        return self.model._base_manager.using(self.alias)

    def _execute(self, queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
        query = queryset.query
        sql, params = query.get_compiler(using=self.alias).as_sql()
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _values(self, queryset: QuerySet[Any], lock: bool) -> QuerySet[Any]:
        if self.weights:
            queryset = queryset.annotate(**self.weights)
        if lock and self.connection.features.has_select_for_update:
            queryset = queryset.select_for_update()
        return queryset.values_list(*self.names)

    def frame(self, rows: list[tuple[Any, ...]]) -> pl.DataFrame:
        """``__pk``, ``k0..``, ``c_<attname>..``, ``m0..`` of raw rows."""
        fast = self._fast_frame(rows)
        if fast is not None:
            return fast
        columns: list[Sequence[Any]] = (
            list(zip(*rows, strict=True)) if rows else [() for _ in self.names]
        )
        series = [self._pk_series(columns[0])]
        position = 1
        for index, f in enumerate(self.key_fields):
            series.append(
                self.values[f].from_table(columns[position]).alias(f"k{index}")
            )
            position += 1
        for f in self.fields:
            series.append(
                self.values[f].from_table(columns[position]).alias(f"c_{f.attname}")
            )
            position += 1
        for name in self.weights:
            weights = [None if w is None else bytes(w) for w in columns[position]]
            series.append(pl.Series("m" + name[2:], weights, dtype=pl.Binary()))
            position += 1
        return pl.DataFrame(series)

    def _fast_frame(self, rows: list[tuple[Any, ...]]) -> pl.DataFrame | None:
        """The frame built by polars from the rows, when every column is plain.

        Plain columns (integers, floats, booleans, text) need no conversion,
        and polars turns rows into columns much faster than Python can.
        """
        every = [self.pk_values, *(self.values[f] for f in self.key_fields)]
        every += [self.values[f] for f in self.fields]
        if self.weights or not rows or not all(v.plain for v in every):
            return None
        names = [_PK, *(f"k{i}" for i in range(len(self.key_fields)))]
        names += [f"c_{f.attname}" for f in self.fields]
        first = rows[0]
        schema: dict[str, pl.DataType] = {}
        booleans = []
        for position, (name, values) in enumerate(zip(names, every, strict=True)):
            dtype = values.dtype
            if dtype == pl.Boolean() and type(first[position]) is not bool:
                # MariaDB hands back booleans as 0 and 1.
                dtype = pl.Int64()
                booleans.append(name)
            schema[name] = dtype
        try:
            frame = pl.DataFrame(rows, schema=schema, orient="row")
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            return None  # an unexpected value type: convert column by column
        return frame.with_columns(pl.col(booleans).cast(pl.Boolean))

    def _pk_series(self, values: Sequence[Any]) -> pl.Series:
        if self.pk_values.plain:
            return self.pk_values._series(values).alias(_PK)
        return pl.Series(_PK, list(values), dtype=pl.Object())

    def empty(self) -> pl.DataFrame:
        return self.frame([])

    def read_all(self, queryset: QuerySet[Any] | None = None) -> pl.DataFrame:
        """Every row of ``queryset`` (default: the table), a page at a time."""
        base = self._values(queryset if queryset is not None else self.manager, False)
        frames = []
        last = None
        while True:
            page = base if last is None else base.filter(pk__gt=last)
            rows = self._execute(page.order_by("pk")[:_PAGE])
            if rows:
                frames.append(self.frame(rows))
                last = self.pk_field.to_python(rows[-1][0])
            if len(rows) < _PAGE:
                break
        return pl.concat(frames) if frames else self.empty()

    def _select_sql(self, where: str, *, lock: bool) -> str:
        """``SELECT <columns> FROM <table> WHERE <where>`` (raw SQL).

        Built once around the compiled column list, not through lookups:
        Django prepares every value of a lookup one by one (and, given the
        text a database stores for a datetime, parses it back and warns that
        it is naive). The values sent here are database values already.
        """
        if self._select is None:
            base = self._values(self.manager.order_by(), lock=False)
            select, params = base.query.get_compiler(using=self.alias).as_sql()
            assert not params
            self._select = select
        sql = f"{self._select} WHERE {where}"
        if lock and self.connection.features.has_select_for_update:
            sql += " FOR UPDATE"
        return sql

    def _column_sql(self, column: str) -> str:
        quote = self.connection.ops.quote_name
        table = get_model_meta(self.model).db_table
        return f"{quote(table)}.{quote(column)}"

    def _read_in(
        self, column: str, values: Sequence[Any], *, lock: bool
    ) -> pl.DataFrame:
        frames = [self.empty()]
        chunk = self._keys_per_query(1)
        operand = self._column_sql(column)
        with self.connection.cursor() as cursor:
            for start in range(0, len(values), chunk):
                part = list(values[start : start + chunk])
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(
                    self._select_sql(f"{operand} IN ({marks})", lock=lock), part
                )
                rows = cursor.fetchall()
                if rows:
                    frames.append(self.frame(list(rows)))
        return pl.concat(frames)

    def _keys_per_query(self, columns: int) -> int:
        """Keys sent in one query: within the backend's parameter limit."""
        wanted = max(self.step, 1000) if columns == 1 else 500
        limit = get_writer(self.connection).max_params_per_statement()
        if limit is not None:
            wanted = min(wanted, max(limit // columns, 1))
        return wanted

    def read_pks(self, pks: Sequence[Any], *, lock: bool) -> pl.DataFrame:
        """The rows whose primary key is in ``pks`` (database values)."""
        return self._read_in(str(self.pk_field.column), pks, lock=lock)

    def read_keys(self, lookups: list[list[Any]], *, lock: bool) -> pl.DataFrame:
        """The rows whose key equals one of the data's (the database compares).

        ``lookups`` holds one list of database values per key field. A key
        with an empty part (a parent the same sync creates) is left out: no
        row can hold it yet. The key columns are compared in SQL, as the
        unique index compares them (its collation included), a few hundred
        keys per query.
        """
        if len(self.key_fields) == 1:
            values = [v for v in lookups[0] if v is not None and v is not _PENDING]
            return self._read_in(str(self.key_fields[0].column), values, lock=lock)
        operands = [self._column_sql(str(f.column)) for f in self.key_fields]
        one = "(" + " AND ".join(f"{operand} = %s" for operand in operands) + ")"
        keys = [
            key
            for key in zip(*lookups, strict=True)
            if not any(v is None or v is _PENDING for v in key)
        ]
        frames = [self.empty()]
        chunk = self._keys_per_query(len(operands))
        with self.connection.cursor() as cursor:
            for start in range(0, len(keys), chunk):
                part = keys[start : start + chunk]
                where = " OR ".join([one] * len(part))
                cursor.execute(
                    self._select_sql(where, lock=lock),
                    [value for key in part for value in key],
                )
                rows = cursor.fetchall()
                if rows:
                    frames.append(self.frame(list(rows)))
        return pl.concat(frames)

    def count(self) -> int:
        return self.manager.count()


# -- planning ------------------------------------------------------------------


def _plan(
    model: type[Model],
    data: object,
    *,
    key: str | Sequence[str],
    fields: Sequence[str] | None,
    delete: object,
    alias: str,
    step: int,
    parent_keys: Mapping[int, Any],
) -> SyncPlan:
    check_model(model)
    check_step(step)
    meta = get_model_meta(model)
    concrete = meta.concrete_model
    if concrete is not None and get_model_meta(concrete).parents:
        message = f"{model.__name__} uses multi-table inheritance; sync its parent"
        raise ValueError(message)
    connection = connections[alias]
    key_fields = _resolve_key(model, key)
    deletes, scope = _delete_scope(model, delete, alias)
    incoming = _Data(model, data, key_fields, fields, connection, parent_keys)
    plan = SyncPlan(model, alias)
    plan._step = step
    plan.key = tuple(f.name for f in key_fields)
    plan.fields = tuple(f.name for f in incoming.fields)
    plan._data = incoming
    plan._key_fields = key_fields
    plan._fields = incoming.fields
    reader = _Reader(model, alias, key_fields, incoming.fields, incoming.values, step)
    plan._reader = reader
    _refuse_null_and_duplicate_keys(
        model, incoming.table, key_fields, incoming, exact=True
    )
    if incoming.frame is not None:
        # Everything a frame write would refuse, refused before the first.
        _FrameColumnsPlan(model, incoming.frame, connection, check_only=True)
    match = [f"m{index}" for index in range(len(key_fields))]
    if deletes or incoming.height * 4 >= reader.count():
        existing = reader.read_all()
    else:
        existing = reader.read_keys(incoming.lookups, lock=False)
    existing = _with_match(existing, len(key_fields))
    if len(key_fields) == 1 and reader.collations:
        table = _respell_folded_keys(incoming, existing, reader)
    else:
        table = _add_match_columns(incoming.table, existing, key_fields, reader)
    if reader.collations:
        # Keys the unique index holds equal, though spelled differently.
        _refuse_null_and_duplicate_keys(model, table, key_fields, incoming, exact=False)
    joined = table.join(existing, on=match, how="left", suffix=_OLD, coalesce=True)
    _fill_plan(plan, joined, incoming)
    if incoming.frame is not None and plan._create_rows:
        FramePlan(model, incoming.frame[plan._create_rows], connection, check_only=True)
    _plan_deletes(plan, existing, table, deletes, scope)
    logger.debug("planned %r", plan)
    return plan


def _plan_deletes(
    plan: SyncPlan,
    existing: pl.DataFrame,
    table: pl.DataFrame,
    deletes: bool,
    scope: QuerySet[Any] | None,
) -> None:
    """Rows to delete, their cascades, and the snapshot apply() checks."""
    key_fields, incoming, reader = plan._key_fields, plan._data, plan._reader
    model, alias = plan.model, plan.alias
    match = [f"m{index}" for index in range(len(key_fields))]
    gone = existing.join(table.select(match), on=match, how="anti")
    # A row with a NULL key cannot be named by any data: it is never deleted.
    gone = gone.drop_nulls(subset=[f"k{i}" for i in range(len(key_fields))])
    if deletes:
        if scope is not None:
            scope_pks = reader.read_all(scope).get_column(_PK)
            gone = gone.filter(pl.col(_PK).is_in(scope_pks.implode()))
    else:
        gone = gone.head(0)
    plan._delete_pks = gone.get_column(_PK).to_list()
    plan.to_delete = len(plan._delete_pks)
    plan.delete_samples = [
        tuple(row)
        for row in gone.select(f"k{i}" for i in range(len(key_fields)))
        .head(_SAMPLES)
        .rows()
    ]
    snapshot_columns = [_PK, *[f"k{i}" for i in range(len(key_fields))]]
    snapshot_columns += [f"c_{f.attname}" for f in incoming.fields]
    kept = pl.concat(
        [
            plan._update.get_column(_PK),
            plan._unchanged.get_column(_PK),
            gone.get_column(_PK),
        ]
    )
    plan._snapshot = existing.select(snapshot_columns).filter(
        pl.col(_PK).is_in(kept.implode())
    )
    if plan._delete_pks:
        counts = count_deletion(model, plan._delete_pks, alias)
        plan.cascade = dict(counts.cascade)
        plan.blockers = dict(counts.blockers)
        plan.blocker_samples = counts.blocker_samples


def _with_match(existing: pl.DataFrame, keys: int) -> pl.DataFrame:
    """Key columns double as match columns where no collation weight is read."""
    return existing.with_columns(
        pl.col(f"k{i}").alias(f"m{i}")
        for i in range(keys)
        if f"m{i}" not in existing.columns
    )


def _respell_folded_keys(
    incoming: _Data, existing: pl.DataFrame, reader: _Reader
) -> pl.DataFrame:
    """Match column ``m0`` of a one-field key whose collation folds text.

    Most keys are spelled exactly as in the table and match as they are.
    Only the others (new keys, and keys spelled differently, ``"abc "`` for
    the row ``"ABC"``) are sent to the database, together with the rows it
    holds equal to them (an ``IN`` query, its collation deciding), to be
    weighed with ``WEIGHT_STRING``. Each such key is then respelled as the
    table's row of the same weight, or as the first data key of that weight:
    after that, equal under the collation means equal as text, and the
    joins and the duplicate check need nothing else.
    """
    table = incoming.table.with_columns(pl.col("k0").alias("m0"))
    known = existing.get_column("k0").drop_nulls().implode()
    other = table.filter(pl.col("k0").is_not_null() & ~pl.col("k0").is_in(known))
    if not other.height:
        return table
    rows = other.get_column(_ROW).to_list()
    values = other.get_column("k0").cast(pl.String).to_list()
    lookups = incoming.lookups[0]
    held_equal = reader.read_keys([[lookups[row] for row in rows]], lock=False)
    table_keys = held_equal.get_column("k0").cast(pl.String).to_list()
    collation = reader.collations[incoming.key_fields[0].column]
    weights = data_weights(
        reader.connection, collation, [*table_keys, *values]
    ).to_list()
    spelling: dict[bytes, str] = {}
    for key, weight in zip(table_keys, weights, strict=False):
        spelling.setdefault(weight, key)
    respelled = [
        spelling.setdefault(weight, key)
        for key, weight in zip(values, weights[len(table_keys) :], strict=True)
    ]
    fixes = pl.DataFrame(
        [
            pl.Series(_ROW, rows, dtype=pl.Int64()),
            pl.Series("m0" + _OLD, respelled, dtype=table.schema["k0"]),
        ]
    )
    table = table.join(fixes, on=_ROW, how="left").with_columns(
        pl.coalesce("m0" + _OLD, "m0").alias("m0")
    )
    return table.drop("m0" + _OLD).sort(_ROW)


def _add_match_columns(
    table: pl.DataFrame,
    existing: pl.DataFrame,
    key_fields: list[Any],
    reader: _Reader,
) -> pl.DataFrame:
    """The data's match columns ``m0..``: what the unique index compares.

    A key without a folding collation matches exactly (``m`` is ``k``). For
    one with such a collation the collation weight is needed: a data key
    spelled exactly as a row's key has that row's weight, read with the
    table; only the others (new keys, other spellings) are sent to the
    database to be weighed.
    """
    keys = [f"k{i}" for i in range(len(key_fields))]
    folded = [
        index
        for index, f in enumerate(key_fields)
        if reader.collations.get(f.column) is not None
    ]
    table = table.with_columns(
        pl.col(f"k{i}").alias(f"m{i}")
        for i in range(len(key_fields))
        if i not in folded
    )
    if not folded:
        return table
    weights = [f"m{i}" for i in folded]
    known = existing.select(*keys, *weights).drop_nulls(subset=keys)
    table = table.join(known, on=keys, how="left", coalesce=True)
    missing = table.filter(pl.any_horizontal(pl.col(w).is_null() for w in weights))
    missing = missing.drop_nulls(subset=keys)
    if missing.height:
        found = [missing.select(_ROW)]
        for index in folded:
            collation = reader.collations[key_fields[index].column]
            values = missing.get_column(f"k{index}").cast(pl.String).to_list()
            found.append(
                pl.DataFrame(
                    data_weights(reader.connection, collation, values).alias(
                        f"m{index}{_OLD}"
                    )
                )
            )
        filled = pl.concat(found, how="horizontal")
        table = table.join(filled, on=_ROW, how="left").with_columns(
            pl.coalesce(w, w + _OLD).alias(w) for w in weights
        )
        table = table.drop(w + _OLD for w in weights)
    return table.sort(_ROW)


def _refuse_null_and_duplicate_keys(
    model: type[Model],
    table: pl.DataFrame,
    key_fields: list[Any],
    incoming: _Data,
    *,
    exact: bool,
) -> None:
    """Refuse empty keys and keys that appear twice (exactly, or as matched)."""
    keys = [f"k{i}" for i in range(len(key_fields))]
    match = keys if exact else [f"m{i}" for i in range(len(key_fields))]
    names = ", ".join(f.name for f in key_fields)
    for index, f in enumerate(key_fields):
        nulls = table.get_column(keys[index]).is_null()
        pending = incoming.pending.get(f.attname)
        if pending is not None:
            nulls = nulls & ~pending
        if nulls.any():
            row = int(nulls.arg_true()[0]) + 1
            message = (
                f"{model.__name__}, row {row}: the key field {f.name!r} is empty; "
                "a sync needs every row's key to match it"
            )
            raise BulkInputError(message, model=model, field=f.name, row=row)
    if any(incoming.pending.get(f.attname) is not None for f in key_fields):
        return  # keys of new parents are unknown, and differ from all others
    duplicated = table.select(_ROW, *dict.fromkeys([*match, *keys])).filter(
        pl.struct(match).is_duplicated()
    )
    if not duplicated.height:
        return
    first = duplicated.row(0, named=True)
    same = duplicated.filter(
        pl.all_horizontal(pl.col(m).eq_missing(first[m]) for m in match)
    )
    rows = [row + 1 for row in same.get_column(_ROW).to_list()]
    value = tuple(first[k] for k in keys)
    shown = value[0] if len(value) == 1 else value
    message = (
        f"{model.__name__}: the key ({names}) {shown!r} appears in rows "
        f"{', '.join(map(str, rows[:10]))}{' ...' if len(rows) > 10 else ''} of the "
        "data; each key may appear once (the database holds these keys equal)"
    )
    raise BulkInputError(
        message,
        model=model,
        field=None if len(keys) > 1 else key_fields[0].name,
        row=rows[0],
        value=shown,
        reason=message,
    )


def _fill_plan(plan: SyncPlan, joined: pl.DataFrame, incoming: _Data) -> None:
    keys = [f"k{i}" for i in range(len(incoming.key_fields))]
    new = joined.filter(pl.col(_PK).is_null())
    plan._create_rows = new.get_column(_ROW).to_list()
    plan.to_create = len(plan._create_rows)
    plan.create_samples = [tuple(r) for r in new.select(keys).head(_SAMPLES).rows()]
    matched = joined.filter(pl.col(_PK).is_not_null())
    pending = incoming.pending
    flags = []
    for f in incoming.fields:
        column = f"c_{f.attname}"
        changed = ~pl.col(column).eq_missing(pl.col(column + _OLD))
        if f.attname in pending:
            flag = pending[f.attname].gather(matched.get_column(_ROW))
            changed = changed | pl.lit(flag)
        flags.append(changed.alias(f"changed_{f.attname}"))
    if flags:
        matched = matched.with_columns(flags)
        any_changed = pl.any_horizontal(f"changed_{f.attname}" for f in incoming.fields)
    else:
        any_changed = pl.lit(value=False)
    updates = matched.filter(any_changed)
    plan._update = updates.select(_ROW, _PK)
    plan._unchanged = matched.filter(~any_changed).select(_ROW, _PK)
    plan.to_update = updates.height
    plan.unchanged = plan._unchanged.height
    for f in incoming.fields:
        changed_rows = updates.filter(pl.col(f"changed_{f.attname}"))
        plan.field_changes[f.name] = changed_rows.height
        if changed_rows.height:
            column = f"c_{f.attname}"
            sample = changed_rows.head(_SAMPLES)
            afters = sample.get_column(column).to_list()
            if f.attname in pending:
                flags_sample = pending[f.attname].gather(sample.get_column(_ROW))
                afters = [
                    _PENDING if flag_ else after
                    for after, flag_ in zip(afters, flags_sample.to_list(), strict=True)
                ]
            plan.samples[f.name] = [
                (tuple(key), before, after)
                for key, before, after in zip(
                    sample.select(keys).rows(),
                    sample.get_column(column + _OLD).to_list(),
                    afters,
                    strict=True,
                )
            ]


# -- public API ----------------------------------------------------------------


def plan_sync(
    model: type[Model],
    data: Iterable[Model] | pl.DataFrame,
    *,
    key: str | Sequence[str],
    fields: Sequence[str] | None = None,
    delete: DeleteScope = False,
    using: str | None = None,
    step: int = 1000,
) -> SyncPlan:
    """Compare ``data`` with ``model``'s table and plan the writes; write nothing.

    Args:
        model: the model whose table is synced.
        data: unsaved model instances (any iterable), or a polars DataFrame
            whose columns name fields (by name or attname), as for
            ``bulk_create_from_frame``.
        key: the field name(s) that identify a row; the database must enforce
            them as unique (a unique field, a ``UniqueConstraint`` without
            condition or a ``unique_together`` of exactly these fields).
        fields: the fields compared, and written for rows that changed.
            Default: the frame's columns, or for objects every concrete field
            but the primary key; the key is never among them, nor
            ``auto_now``/``auto_now_add`` fields (an update refreshes
            ``auto_now`` fields, as ``save()`` would).
        delete: ``False`` (default) deletes nothing; ``True`` deletes the
            table's rows whose key is not in the data; a queryset or ``Q`` of
            ``model`` deletes only such rows within it.
        using: database alias; default ``router.db_for_write(model)``.
        step: rows per chunk for reads and writes.

    Returns:
        A :class:`SyncPlan`; ``str(plan)`` summarizes it, ``plan.apply()``
        writes it.

    Raises:
        BulkInputError: a key appears twice in the data (the message names
            the key and its 1-based rows), a row has no key, a frame column
            the model cannot take.
        ValueError: a key the database does not enforce as unique, an unknown
            or unsuitable field.
        TypeError: data that is neither instances of ``model`` nor a frame.

    Examples:
        >>> plan = plan_sync(Author, [Author(name="Ann", birth_year=1970)], key="name")
        >>> plan.to_create, plan.to_update
        (1, 0)
        >>> print(plan)  # doctest: +SKIP
    """
    alias = _database_for(model, using)
    return _plan(
        model,
        data,
        key=key,
        fields=fields,
        delete=delete,
        alias=alias,
        step=step,
        parent_keys={},
    )


def sync(
    model: type[Model],
    data: Iterable[Model] | pl.DataFrame,
    *,
    key: str | Sequence[str],
    fields: Sequence[str] | None = None,
    delete: DeleteScope = False,
    using: str | None = None,
    step: int = 1000,
) -> SyncResult:
    """Plan and apply a sync in one transaction; see :func:`plan_sync`.

    The plan is made inside the transaction; the rows it updates or deletes
    are read again, locked where the database supports ``SELECT ... FOR
    UPDATE``, right before the writes, and a row that appeared with a key
    the sync creates stops it with ``StalePlanError``, nothing written.

    Examples:
        >>> result = sync(Author, authors, key="name", delete=True)
        >>> result.created, result.updated, result.unchanged, result.deleted
        (1, 2, 97, 3)
    """
    alias = _database_for(model, using)
    with transaction.atomic(using=alias):
        plan = _plan(
            model,
            data,
            key=key,
            fields=fields,
            delete=delete,
            alias=alias,
            step=step,
            parent_keys={},
        )
        return plan._apply(full_check=False)


class SyncBulksPlan:
    """Plans of several models, applied together in foreign-key order.

    Attributes:
        plans: ``{model: SyncPlan}``, parents before their children.

    Examples:
        >>> plan = plan_sync_bulks(
        ...     {Book: books, Author: authors}, keys={Author: "name", Book: "isbn"}
        ... )
        >>> print(plan.plans[Book])
        library.Book (key: isbn): 2 to create, 0 to update, 0 unchanged, ...
    """

    def __init__(self, plans: dict[type[Model], SyncPlan], alias: str) -> None:
        """Keep the plans, in foreign-key order."""
        self.plans = plans
        self.alias = alias
        self._applied = False

    def __str__(self) -> str:
        """Every model's summary, parents first."""
        return "\n".join(str(plan) for plan in self.plans.values())

    def apply(self) -> dict[type[Model], SyncResult]:
        """Write every plan in one transaction; return ``{model: SyncResult}``.

        All plans are checked for staleness before the first write; then
        creates and updates run parents first, deletes children first.

        Raises:
            StalePlanError: a row of any model changed since planning.

        Examples:
            >>> results = plan_sync_bulks(
            ...     {Author: authors, Book: books},
            ...     keys={Author: ["name"], Book: ["isbn"]},
            ... ).apply()
            >>> results[Book].created
            2
        """
        if self._applied:
            message = "this SyncBulksPlan was applied already; plan again"
            raise RuntimeError(message)
        self._applied = True
        plans = list(self.plans.values())
        for plan in plans:
            plan._start()
        upserts: dict[type[Model], tuple[int, int]] = {}
        deletes: dict[type[Model], tuple[int, dict[str, int]]] = {}
        try:
            with transaction.atomic(using=self.alias):
                for plan in plans:
                    plan._check_fresh(full=True)
                for plan in plans:
                    upserts[plan.model] = plan._write_upserts()
                for plan in reversed(plans):
                    deletes[plan.model] = plan._write_deletes()
        except BaseException:
            for plan in plans:
                plan._restore_objects()
            raise
        return {
            plan.model: SyncResult(
                plan.model,
                upserts[plan.model][0],
                upserts[plan.model][1],
                plan.unchanged,
                deletes[plan.model][0],
                deletes[plan.model][1],
            )
            for plan in plans
        }


def plan_sync_bulks(
    data_by_model: Mapping[type[Model], Iterable[Model] | pl.DataFrame],
    *,
    keys: Mapping[type[Model], str | Sequence[str]],
    fields: Mapping[type[Model], Sequence[str]] | None = None,
    delete: DeleteScope | Mapping[type[Model], DeleteScope] = False,
    using: str | None = None,
    step: int = 1000,
) -> SyncBulksPlan:
    """Plan the sync of several models at once, parents before children.

    A child may point to its parent by the parent's natural key (a
    ``ForeignKey(to_field=...)`` column or attribute) or hold a parent object
    of the same call, as ``bulk_create_bulks_in_steps`` allows: a parent
    object that matches an existing row stands for that row, one that the
    parent's plan creates gets its key when the plan is applied.

    Args:
        data_by_model: ``{model: objects or frame}``.
        keys: ``{model: key field names}``, one entry per model.
        fields: optional ``{model: compared field names}``.
        delete: as for :func:`plan_sync`, for every model, or a dict per model
            (models left out delete nothing).
        using: database alias; default: the router's for the first model.
        step: rows per chunk.

    Examples:
        >>> authors = [Author(name="Ann")]
        >>> books = [Book(isbn="1", title="Notes", author=authors[0])]
        >>> plan = plan_sync_bulks(
        ...     {Book: books, Author: authors},
        ...     keys={Author: "name", Book: "isbn"},
        ... )
        >>> [model.__name__ for model in plan.plans]
        ['Author', 'Book']
    """
    for model in data_by_model:
        check_model(model)
    missing = [m.__name__ for m in data_by_model if m not in keys]
    if missing:
        message = f"keys= names no key for: {', '.join(missing)}"
        raise ValueError(message)
    models = topological_sort_models(data_by_model)
    if not models:
        return SyncBulksPlan({}, using or "default")
    alias = _database_for(models[0], using)
    plans: dict[type[Model], SyncPlan] = {}
    parent_keys: dict[int, Any] = {}
    for model in models:
        if isinstance(delete, Mapping):
            model_delete: object = delete.get(model, False)
        else:
            model_delete = delete
        plan = _plan(
            model,
            data_by_model[model],
            key=keys[model],
            fields=None if fields is None else fields.get(model),
            delete=model_delete,
            alias=alias,
            step=step,
            parent_keys=parent_keys,
        )
        plans[model] = plan
        parent_keys.update(_object_keys(plan))
    return SyncBulksPlan(plans, alias)


def _object_keys(plan: SyncPlan) -> dict[int, Any]:
    """``{id(object): pk or _PENDING}`` for the plan's objects, for its children."""
    objs = plan._data.objects
    if objs is None:
        return {}
    found: dict[int, Any] = {id(objs[row]): _PENDING for row in plan._create_rows}
    for part in (plan._update, plan._unchanged):
        for row, pk in part.select(_ROW, _PK).iter_rows():
            found[id(objs[row])] = pk
    return found
