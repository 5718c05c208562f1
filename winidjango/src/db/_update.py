"""Chunked UPDATE of model instances through one joined statement per batch."""

from collections import deque
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from winidjango.src.db._backends import get_writer
from winidjango.src.db._backends.base import Statement
from winidjango.src.db._related import RelatedIds
from winidjango.src.db._validation import SavedChunkChecks
from winidjango.src.db._values import RowConverter, SqlExpressionFound
from winidjango.src.db.fields import get_model_meta


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
        """Resolve columns, casts and the rows that fit in one statement."""
        meta = get_model_meta(model)
        self.model = model
        self._set_up_checks(model)
        self.fields = fields
        self.connection = connection
        self.alias = alias
        self.writer = get_writer(connection)
        assert meta.pk is not None  # every concrete model has one
        self.pk_field = meta.pk
        self.pk_column = str(meta.pk.column)
        self.table = meta.db_table
        self.columns = [field.column for field in fields]
        self.casts = [
            self.writer.value_cast(field.db_type(connection))
            for field in [self.pk_field, *fields]
        ]
        self._converter = RowConverter([self.pk_field, *fields], connection, add=False)
        self._related_ids = RelatedIds(model, fields)
        # The update fields every object must have loaded or set; auto_now
        # fields are refreshed whatever they held.
        needed = [
            field.attname for field in fields if not getattr(field, "auto_now", False)
        ]
        self._read_needed: Callable[[dict[str, Any]], Any] | None = (
            itemgetter(*needed) if needed else None
        )
        limit = self.writer.max_params_per_statement()
        params_per_row = len(fields) + 1
        self.rows_per_statement = (
            # One parameter per statement is kept for backends that add a
            # key list (PostgreSQL).
            step if limit is None else max((limit - 1) // params_per_row, 1)
        )

    def prepare(self, chunk: list[M]) -> list[Statement]:
        """Check ``chunk``, convert its values and build the UPDATE statements."""
        self.check_chunk(chunk)
        self._refuse_deferred_in(chunk)
        self._related_ids.prepare(chunk, "bulk_update")
        try:
            rows = self._converter.rows(chunk)
        except SqlExpressionFound as found:
            raise self._expression_error(chunk[found.position]) from None
        return self.writer.update_statements(
            self.table,
            self.pk_column,
            self.columns,
            self.casts,
            rows,
            max_rows=self.rows_per_statement,
        )

    def _refuse_deferred_in(self, chunk: list[M]) -> None:
        """Refuse the first object of ``chunk`` with an update field deferred.

        A deferred field is one missing from the instance ``__dict__``;
        reading all update fields of all objects with one ``itemgetter`` per
        object finds out at C speed whether any is missing.
        """
        read = self._read_needed
        if read is None:
            return
        try:
            deque(map(read, map(vars, chunk)), maxlen=0)
        except KeyError:
            pass
        else:
            return
        for position, obj in enumerate(chunk):
            self._refuse_deferred(obj, position)

    def _expression_error(self, obj: M) -> TypeError:
        """The error for an SQL expression among the values, naming its field."""
        for field in self.fields:
            value = getattr(obj, field.attname)
            if hasattr(value, "resolve_expression"):
                return TypeError(
                    f"{self.model.__name__}.{field.name} holds an expression "
                    f"({value!r}); bulk updates write plain values only"
                )
        return TypeError(f"{obj!r} holds an expression; bulk updates need values")

    def _refuse_deferred(self, obj: M, position: int) -> None:
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
                message = (
                    f"object {position} of the chunk ({obj!r}) was loaded without "
                    f"{field.name!r} (deferred) and it was not set; load it or "
                    "leave it out of update_fields"
                )
                raise ValueError(message)

    def execute(self, statements: list[Statement]) -> int:
        """Run the statements; return how many rows matched."""
        updated = 0
        with (
            connections[self.alias].cursor() as cursor,
            self.writer.planner_settings(cursor),
        ):
            for sql, params in statements:
                cursor.execute(sql, params)
                updated += cursor.rowcount
        return updated
