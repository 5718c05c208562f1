"""Chunked INSERT of model instances, with primary keys read back.

Preparation (checks, related ids, ``pre_save`` values, SQL) is separated from
execution so that helper threads can prepare upcoming chunks while the thread
that owns the transaction executes.
"""

import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import NotSupportedError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import AutoField, Model
from django.db.models.expressions import DatabaseDefault
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLInsertCompiler

from winidjango.src.db._backends import get_writer
from winidjango.src.db._related import RelatedIds
from winidjango.src.db._validation import (
    ChunkChecks,
    bulk_row,
    input_error,
    row_finder,
)
from winidjango.src.db._values import RowConverter, SqlExpressionFound
from winidjango.src.db.exceptions import BulkInputError
from winidjango.src.db.fields import get_model_meta


class _WrittenObjects:
    """The objects a plan wrote, kept so that a rollback can mark them unsaved.

    Held strongly when the call returns the objects anyway; held weakly when
    it does not (``return_objects=False``), so that a streamed import keeps
    only the objects its caller keeps: the others cannot be retried, so there
    is nothing to mark.
    """

    def __init__(self, *, weak: bool) -> None:
        self._strong: list[Model] | None = None if weak else []
        self._weak: weakref.WeakValueDictionary[int, Model] = (
            weakref.WeakValueDictionary()
        )
        self._added = 0

    def extend(self, objs: Iterable[Model]) -> None:
        if self._strong is not None:
            self._strong.extend(objs)
            return
        for obj in objs:
            self._weak[self._added] = obj
            self._added += 1

    def __iter__(self) -> Iterator[Model]:
        if self._strong is not None:
            return iter(self._strong)
        return iter(list(self._weak.values()))


@dataclass
class _RowsBatch:
    """Objects with their column values, for the backend writer's fast INSERT."""

    objs: list[Model]
    columns: list[str]
    rows: list[tuple[Any, ...]]
    assigns_keys: bool


@dataclass
class _Batch:
    """One INSERT statement's worth of objects and its compiled SQL."""

    objs: list[Model]
    compiler: SQLInsertCompiler
    statements: list[tuple[str, Sequence[Any]]]
    assigns_keys: bool


@dataclass
class _Prepared[M: Model]:
    """A chunk ready to execute: either compiled statements or plain rows."""

    chunk: list[M]
    compiled: list[_Batch]
    rows: list[_RowsBatch]


class InsertPlan[M: Model](ChunkChecks):
    """Everything about inserting ``model`` that is the same for every chunk."""

    def __init__(
        self,
        model: type[M],
        connection: BaseDatabaseWrapper,
        alias: str,
        step: int,
        *,
        keep_objects: bool = True,
    ) -> None:
        """Check the model can be bulk inserted and read the backend's limits.

        With ``keep_objects=False`` the plan holds no strong reference to the
        objects it wrote (see :class:`_WrittenObjects`).

        Runs in the owning thread: reading some backend features queries the
        server, which must not happen on a helper thread's borrowed connection.
        """
        meta = get_model_meta(model)
        if (
            meta.concrete_model is not None
            and get_model_meta(meta.concrete_model).parents
        ):
            message = (
                f"{model.__name__} uses multi-table inheritance; its rows span "
                "several tables and cannot be bulk created (Django's bulk_create "
                "refuses it too)"
            )
            raise BulkInputError(message, model=model)
        if meta.order_with_respect_to is not None:
            message = f"{model.__name__} uses order_with_respect_to, not supported"
            raise BulkInputError(message, model=model)
        self.model = model
        self.connection = connection
        self.alias = alias
        self.fields = [field for field in meta.concrete_fields if not field.generated]
        self.fields_without_pk = [
            field for field in self.fields if not isinstance(field, AutoField)
        ]
        self.can_return_keys = bool(
            connection.features.can_return_rows_from_bulk_insert
        )
        self.returning_fields = (
            meta.db_returning_fields if self.can_return_keys else None
        )
        ops = connection.ops
        self.rows_per_statement = max(
            ops.bulk_batch_size(self.fields, [None] * step), 1
        )
        # Objects whose primary key this plan had the database assign, so a
        # rollback can make them unsaved again (see ``forget_written``).
        self.keys_assigned = _WrittenObjects(weak=not keep_objects)
        self.written = _WrittenObjects(weak=not keep_objects)
        self.writer = get_writer(connection)
        self.table = meta.db_table
        assert meta.pk is not None  # every concrete model has one
        self.pk_field = meta.pk
        # The fast path writes plain values itself; anything the database
        # must send back besides the key goes through Django's compiler.
        self.fast = not self.writer.uses_django_sql and all(
            field is meta.pk for field in meta.db_returning_fields
        )
        self._convert_with_pk = RowConverter(model, self.fields, connection, add=True)
        self._convert_without_pk = RowConverter(
            model, self.fields_without_pk, connection, add=True
        )
        self._related_ids = RelatedIds(model)
        # AutoField's metaclass makes BigAutoField and SmallAutoField count.
        self._auto_pk = isinstance(meta.pk, AutoField)
        self._key_of = attrgetter(meta.pk.attname)
        # MySQL/MariaDB give a row written with id 0 a new id (unless sql_mode
        # has NO_AUTO_VALUE_ON_ZERO) and the object would keep 0; Django
        # refuses it. Read from the server here, in the owning thread.
        self._zero_refused = self._auto_pk and not (
            connection.features.allows_auto_pk_0
        )

    def keys_needed(self, objs: Sequence[Model]) -> int | None:
        """How many of ``objs`` :meth:`prepare` would leave to the database's keys.

        The objects whose key attribute is None (an auto-incrementing key) or
        a ``DatabaseDefault``, read at C speed. None if one of ``objs`` has
        no key attribute (not an instance of the model): :meth:`prepare`
        refuses it.
        """
        try:
            keys = list(map(self._key_of, objs))
        except AttributeError:
            return None
        needed = keys.count(None) if self._auto_pk else 0
        if any(issubclass(kind, DatabaseDefault) for kind in set(map(type, keys))):
            needed += sum(isinstance(key, DatabaseDefault) for key in keys)
        return needed

    def needs_key(self, obj: Model) -> bool:
        """Whether :meth:`prepare` would leave ``obj``'s key to the database."""
        key = getattr(obj, self.pk_field.attname, None)
        return (self._auto_pk and key is None) or isinstance(key, DatabaseDefault)

    def check_values_up_front(self, bulk: Sequence[Model]) -> None:
        """Refuse a 0 key where the server would replace it, before any write."""
        if not self._zero_refused:
            return
        attname = self.pk_field.attname
        keys = [vars(obj).get(attname) for obj in bulk]
        if 0 in keys:
            position = next(i for i, key in enumerate(keys) if key == 0)
            raise self._zero_key_error(bulk, position, keys[position])

    def _zero_key_error(
        self, chunk: Sequence[Model], position: int, key: Any
    ) -> Exception:
        reason = (
            f"0 as the {self.pk_field.name!r} AutoField: the {self.connection.vendor} "
            "server would store the row under another id (its sql_mode lacks "
            "NO_AUTO_VALUE_ON_ZERO), as Django's bulk_create refuses too; leave "
            "the key unset"
        )
        return input_error(
            self.model,
            reason,
            field=self.pk_field.name,
            row=bulk_row(chunk, position),
            value=key,
        )

    def prepare(self, chunk: list[M]) -> _Prepared[M]:
        """Check ``chunk`` and compile its INSERT statements; no query is run."""
        self.check_chunk(chunk)
        with_pk: list[Model] = []
        without_pk: list[Model] = []
        pk_field = self.pk_field
        pk_attname = pk_field.attname
        # Copies the id of a related object saved since it was assigned (a
        # parent created earlier in the same call), or raises if the related
        # object is still unsaved.
        self._related_ids.prepare(chunk, "bulk_create", row_finder(chunk, chunk))
        for position, obj in enumerate(chunk):
            if self._auto_pk:
                key = getattr(obj, pk_attname)
                if key is None:
                    without_pk.append(obj)
                    continue
                if self._zero_refused and key == 0:
                    raise self._zero_key_error(chunk, position, key)
            if isinstance(obj.pk, DatabaseDefault):
                without_pk.append(obj)
                continue
            if not obj._is_pk_set():  # type: ignore[attr-defined]
                obj.pk = pk_field.get_pk_value_on_save(obj)
            (with_pk if obj._is_pk_set() else without_pk).append(obj)  # type: ignore[attr-defined]
        if without_pk and not self.can_return_keys:
            message = (
                f"the {self.connection.vendor} database cannot return primary keys "
                "from a multi-row INSERT (MySQL; MariaDB 10.5+ can), so "
                f"{self.model.__name__} objects without a primary key cannot be "
                "bulk created with their keys; set the primary keys yourself"
            )
            raise NotSupportedError(message)
        # A model whose only column is its generated key has no values to
        # send: Django's compiler writes its DEFAULT VALUES rows.
        if self.fast and (self.fields_without_pk or not without_pk):
            rows_batches = [
                self._rows(chunk, objs, fields, converter, assigns_keys)
                for objs, fields, converter, assigns_keys in (
                    (with_pk, self.fields, self._convert_with_pk, False),
                    (
                        without_pk,
                        self.fields_without_pk,
                        self._convert_without_pk,
                        True,
                    ),
                )
                if objs
            ]
            if all(batch is not None for batch in rows_batches):
                return _Prepared(chunk, [], [b for b in rows_batches if b is not None])
        batches = []
        for objs, fields, converter in (
            (with_pk, self.fields, self._convert_with_pk),
            (without_pk, self.fields_without_pk, self._convert_without_pk),
        ):
            for start in range(0, len(objs), self.rows_per_statement):
                part = objs[start : start + self.rows_per_statement]
                try:
                    batches.append(self._compile(part, fields))
                except (ValueError, TypeError, ValidationError):
                    # Name the field, row and value, as the fast path does.
                    converter.find_refusal(part, row_finder(chunk, part))
                    raise
        return _Prepared(chunk, batches, [])

    def _rows(
        self,
        chunk: list[M],
        objs: list[Model],
        fields: list[Any],
        converter: RowConverter,
        assigns_keys: bool,
    ) -> _RowsBatch | None:
        """Database values of ``objs``; None if one needs SQL (an expression)."""
        try:
            rows = converter.rows(objs, row_finder(chunk, objs))
        except SqlExpressionFound:
            return None  # Django's compiler turns the expression into SQL
        columns = [field.column for field in fields]
        return _RowsBatch(objs, columns, rows, assigns_keys)

    def _compile(self, objs: list[Model], fields: list[Any]) -> _Batch:
        query = InsertQuery(self.model)
        query.insert_values(fields, objs, raw=False)
        compiler = query.get_compiler(connection=self.connection)
        compiler.returning_fields = self.returning_fields
        assigns_keys = fields is self.fields_without_pk
        return _Batch(objs, compiler, compiler.as_sql(), assigns_keys)

    def execute(self, prepared: _Prepared[M]) -> list[M]:
        """Run the INSERTs and store the returned keys on the objects."""
        chunk, batches = prepared.chunk, prepared.compiled
        self.written.extend(chunk)
        for objs, assigns_keys in [
            *((batch.objs, batch.assigns_keys) for batch in batches),
            *((batch.objs, batch.assigns_keys) for batch in prepared.rows),
        ]:
            if assigns_keys:
                self.keys_assigned.extend(objs)
        if prepared.rows:
            self._execute_rows(prepared.rows)
            return chunk
        # The connection of the executing thread: the caller's in atomic mode,
        # a worker's own in parallel mode.
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            for batch in batches:
                for sql, params in batch.statements:
                    cursor.execute(sql, params)
                if self.returning_fields:
                    self._store_returned(batch, cursor, connection)
                for obj in batch.objs:
                    obj._state.adding = False
                    obj._state.db = self.alias
        # Objects with and without preset keys went in separate statements;
        # the chunk itself keeps the caller's order.
        return chunk

    def _execute_rows(self, batches: list[_RowsBatch]) -> None:
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            for batch in batches:
                keys = self.writer.insert_rows(
                    cursor,
                    self.table,
                    batch.columns,
                    batch.rows,
                    self.pk_field.column if batch.assigns_keys else None,
                )
                if keys is not None:
                    attname = self.pk_field.attname
                    for obj, key in zip(batch.objs, keys, strict=True):
                        setattr(obj, attname, key)
                for obj in batch.objs:
                    obj._state.adding = False
                    obj._state.db = self.alias

    def forget_written(self) -> None:
        """Mark the objects this plan wrote unsaved again after a rollback.

        Without this, a retry (or ``bulk_create_bulks_in_steps`` skipping
        saved parents) would take the objects for rows that no longer exist.
        """
        assigned = {id(obj) for obj in self.keys_assigned}
        for obj in self.written:
            obj._state.adding = True
            obj._state.db = None
            if id(obj) in assigned:
                obj.pk = None
        # Ids copied from related objects that were just forgotten are stale.
        relations = [
            field
            for field in get_model_meta(self.model).concrete_fields
            if field.is_relation
        ]
        for obj in self.written:
            for field in relations:
                related = field.get_cached_value(obj, None)  # type: ignore[attr-defined]
                if related is not None and related.pk is None:
                    # Not setattr: the descriptor would drop the cached
                    # related object, the only link left to the parent.
                    obj.__dict__[field.attname] = None

    def _store_returned(
        self, batch: _Batch, cursor: Any, connection: BaseDatabaseWrapper
    ) -> None:
        assert self.returning_fields is not None
        compiler = batch.compiler
        rows: Iterable[Sequence[Any]] = connection.ops.fetch_returned_rows(
            cursor,
            compiler.returning_params,  # type: ignore[arg-type]
        )
        table = get_model_meta(self.model).db_table
        columns: list[Any] = [field.get_col(table) for field in self.returning_fields]
        converters = compiler.get_converters(columns)
        if converters:
            rows = compiler.apply_converters(rows, converters)
        for obj, row in zip(batch.objs, rows, strict=True):
            for value, field in zip(row, self.returning_fields, strict=True):
                setattr(obj, field.attname, value)
