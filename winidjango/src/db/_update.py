"""Chunked UPDATE of model instances through one joined statement per batch.

Values are converted as Django's ``bulk_update`` converts them (the
attribute, then ``get_db_prep_save``), ``auto_now`` fields refreshed as
``save()`` would. Fields inherited from a multi-table parent are written to
the parent's table, joined on the parent's key (which holds the same value as
the child's primary key). A chunk holding an SQL expression as a value
(``F("n") + 1``) is handed to Django's own ``bulk_update``, which compiles it.

The same row twice in one call: the first copy wins, as in Django's
``bulk_update`` (its ``CASE WHEN`` takes the first match); later copies are
left out, across chunks too.
"""

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from winidjango.src.db._backends import get_writer
from winidjango.src.db._backends.base import Statement
from winidjango.src.db._related import RelatedIds
from winidjango.src.db._validation import (
    OffsetChunk,
    SavedChunkChecks,
    chunk_offset,
    input_error,
    row_finder,
)
from winidjango.src.db._values import RowConverter, SqlExpressionFound
from winidjango.src.db.fields import get_model_meta


@dataclass
class _TablePart:
    """The update fields that live in one table, and how to write them."""

    table: str
    key_column: str
    columns: list[str]
    casts: list[str | None]
    converter: RowConverter
    rows_per_statement: int


@dataclass
class PreparedUpdate[M: Model]:
    """A chunk ready to execute: statements per table, or Django's bulk_update."""

    #: One list of statements per table part, the counted part first.
    statements: list[list[Statement]]
    #: Objects Django's own ``bulk_update`` writes (a value is an expression).
    django_objs: list[M] | None = None


class UpdatePlan[M: Model](SavedChunkChecks):
    """Everything about updating ``fields`` of ``model`` that every chunk shares."""

    requires_saved = "updated"

    def __init__(
        self,
        model: type[M],
        fields: list[Any],
        connection: BaseDatabaseWrapper,
        alias: str,
        step: int,
    ) -> None:
        """Group the fields by table; resolve columns, casts and statement sizes."""
        meta = get_model_meta(model)
        self.model = model
        self._set_up_checks(model)
        self.fields = fields
        self.connection = connection
        self.alias = alias
        self.writer = get_writer(connection)
        assert meta.pk is not None  # every concrete model has one
        self.pk_field = meta.pk
        self._key_in_state = itemgetter(meta.pk.attname)
        own_model = meta.concrete_model
        by_table: dict[Any, list[Any]] = {own_model: []}
        for field in fields:
            by_table.setdefault(field.model._meta.concrete_model, []).append(field)
        if not by_table[own_model]:
            del by_table[own_model]
        # The model's own table holds the key; it converts it with its fields.
        self._own_first = own_model in by_table
        self._key_converter = RowConverter(model, [meta.pk], connection, add=False)
        self.parts: list[_TablePart] = []
        for table_model, table_fields in by_table.items():
            table_meta = get_model_meta(table_model)
            key_field = table_meta.pk
            assert key_field is not None
            own = table_model is own_model
            converted = [meta.pk, *table_fields] if own else table_fields
            limit = self.writer.max_params_per_statement()
            self.parts.append(
                _TablePart(
                    table=table_meta.db_table,
                    key_column=str(key_field.column),
                    columns=[field.column for field in table_fields],
                    casts=[
                        self.writer.value_cast(field.db_type(connection))
                        for field in [key_field, *table_fields]
                    ],
                    converter=RowConverter(model, converted, connection, add=False),
                    # One parameter per statement is kept for backends that
                    # add a key list (PostgreSQL).
                    rows_per_statement=(
                        step
                        if limit is None
                        else max((limit - 1) // (len(table_fields) + 1), 1)
                    ),
                )
            )
        self._related_ids = RelatedIds(model, fields)
        # The update fields every object must have loaded or set; auto_now
        # fields are refreshed whatever they held.
        needed = [
            field.attname for field in fields if not getattr(field, "auto_now", False)
        ]
        self._read_needed: Callable[[dict[str, Any]], Any] | None = (
            itemgetter(*needed) if needed else None
        )
        self._auto_now = [f for f in fields if getattr(f, "auto_now", False)]
        # Keys already written by this call: a later copy of a row is dropped.
        self._seen: set[Any] = set()
        # False once a list is known to hold every row once.
        self._repeats_possible = True

    def check_values_up_front(self, bulk: Sequence[Model]) -> None:
        """Refuse a deferred update field anywhere in a list, before any write.

        Also finds out whether the list names any row twice; if not, the
        chunks need no check for repeats.
        """
        objs = list(bulk)
        self._refuse_deferred_in(objs, objs)  # type: ignore[arg-type]
        keys = list(map(self._key_of, objs))
        self._repeats_possible = len(set(keys)) < len(keys)

    def mark_repeats(self, chunk: list[M]) -> list[M]:
        """Drop objects whose row an earlier object of the call already updates.

        Runs in the thread that reads the input, in input order, so "first"
        means first in the bulk whichever thread prepares the chunk. An object
        without a key, or not a model instance, is kept for the checks in
        :meth:`prepare` to refuse.
        """
        if not self._repeats_possible:
            return chunk
        try:
            # C-speed reads of the instance __dict__, no descriptor calls.
            keys = list(map(self._key_in_state, map(vars, chunk)))
        except (TypeError, KeyError):
            return chunk
        seen = self._seen
        repeats: set[int] = set()
        if seen.isdisjoint(keys):
            before = len(seen)
            seen.update(keys)
            if len(seen) - before == len(keys):
                return chunk  # the common case, decided at C speed
            # Repeats inside this chunk only.
            earlier: set[Any] = set()
        else:
            earlier = seen
        for position, key in enumerate(keys):
            if key in earlier:
                repeats.add(position)
            else:
                earlier.add(key)
        if not repeats:
            return chunk
        kept = OffsetChunk(
            obj for position, obj in enumerate(chunk) if position not in repeats
        )
        # Row numbers of errors still count the dropped copies.
        kept.offset = chunk_offset(chunk)
        kept.original = chunk
        return kept

    def prepare(self, chunk: list[M]) -> PreparedUpdate[M]:
        """Check ``chunk``, convert its values and build the UPDATE statements."""
        original: list[M] = getattr(chunk, "original", None) or chunk
        self.check_chunk(original)
        if not self.checked_up_front:
            self._refuse_deferred_in(chunk, original)
        row_of = row_finder(original, chunk)
        self._related_ids.prepare(chunk, "bulk_update", row_of)
        try:
            own_rows = self.parts[0].converter.rows(chunk, row_of)
            keys: list[Any] = []
            if self._own_first:
                tables = [own_rows]
                if len(self.parts) > 1:
                    keys = [row[0] for row in own_rows]
            else:
                keys = [row[0] for row in self._key_converter.rows(chunk, row_of)]
                tables = [
                    [(key, *row) for key, row in zip(keys, own_rows, strict=True)]
                ]
            for part in self.parts[1:]:
                values = part.converter.rows(chunk, row_of)
                tables.append(
                    [(key, *row) for key, row in zip(keys, values, strict=True)]
                )
        except SqlExpressionFound as found:
            if found.field is not None and found.field.primary_key:
                reason = (
                    "an expression as the primary key: a bulk update finds its "
                    "rows by their key values"
                )
                raise input_error(
                    self.model,
                    reason,
                    field=found.field.name,
                    row=row_of(found.position),
                    value=found.value,
                    type_error=True,
                ) from None
            return self._for_django(chunk)
        return PreparedUpdate(
            [
                self.writer.update_statements(
                    part.table,
                    part.key_column,
                    part.columns,
                    part.casts,
                    rows,
                    max_rows=part.rows_per_statement,
                )
                for part, rows in zip(self.parts, tables, strict=True)
            ]
        )

    def _for_django(self, chunk: list[M]) -> PreparedUpdate[M]:
        """Leave a chunk holding an expression to Django's ``bulk_update``.

        The ``auto_now`` fields get their new time now, as on the fast path.
        """
        for field in self._auto_now:
            for obj in chunk:
                field.pre_save(obj, False)
        return PreparedUpdate([], list(chunk))

    def _refuse_deferred_in(self, objs: list[M], chunk: list[M]) -> None:
        """Refuse the first object with an update field deferred.

        A deferred field is one missing from the instance ``__dict__``;
        reading all update fields of all objects with one ``itemgetter`` per
        object finds out at C speed whether any is missing.
        """
        read = self._read_needed
        if read is None:
            return
        try:
            deque(map(read, map(vars, objs)), maxlen=0)
        except KeyError:
            pass
        else:
            return
        row_of = row_finder(chunk, objs)
        for index, obj in enumerate(objs):
            self._refuse_deferred(obj, row_of(index))

    def _refuse_deferred(self, obj: M, row: int) -> None:
        """Refuse update fields that were neither loaded nor set on ``obj``.

        Reading one would load it with a query from whatever thread prepares
        the chunk, outside the caller's transaction; and writing back a value
        nobody set changes nothing.
        """
        deferred = obj.get_deferred_fields()
        if not deferred:
            return
        for field in self.fields:
            if field.attname in deferred and not getattr(field, "auto_now", False):
                reason = (
                    f"{obj!r} was loaded without {field.name!r} (deferred) and it "
                    "was not set; load it or leave it out of update_fields"
                )
                raise input_error(self.model, reason, field=field.name, row=row)

    def execute(self, prepared: PreparedUpdate[M]) -> int:
        """Run the statements; return how many rows matched.

        The count is that of the model's own table, or of the first parent
        table when only parent fields are updated, as Django's ``bulk_update``
        counts.
        """
        connection = connections[self.alias]
        if prepared.django_objs is not None:
            manager = self.model._base_manager.db_manager(self.alias)
            return manager.bulk_update(
                prepared.django_objs, [field.name for field in self.fields]
            )
        counted = 0
        with connection.cursor() as cursor, self.writer.planner_settings(cursor):
            for number, statements in enumerate(prepared.statements):
                for sql, params in statements:
                    cursor.execute(sql, params)
                    if number == 0:
                        counted += cursor.rowcount
        return counted
