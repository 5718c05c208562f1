"""One COPY for all the chunks of an atomic ``bulk_create_in_steps`` on PostgreSQL.

Each ``COPY`` statement has a fixed cost (a round trip, parsing, setting up
the copy state; see ``docs/performance.md``). Here every chunk is converted
in turn and its rows handed to one ``COPY`` stream, so ``step`` still bounds
the rows converted at a time while the server sees a single statement.

No query can run on a connection while it is inside a ``COPY`` (it would
wait for the connection forever), so the primary keys the rows need are
drawn from the key's sequence before the ``COPY`` starts, in one ``nextval``
query for every object of the bulk without a key. Only lists and tuples are
streamed, and only without a ``progress`` callback: reading a generator or
calling back runs the caller's code, which may query the database (and
would not see the rows of the chunks before, as it does chunk by chunk). A
query from a field's ``pre_save`` during the ``COPY`` ends it instead.

A chunk that cannot go into the stream (an SQL expression as a value, a
query while converting it, more objects without a key than keys were drawn,
columns in another order) ends
the ``COPY``; that chunk and every later one then take the chunk-by-chunk
path, in order, in the same transaction. Keys drawn for them and not yet
used are set on their objects first, so every object gets the key it would
have got from the chunk-by-chunk path, in input order.
"""

from collections import deque
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

from django.db import connections
from django.db.models import Model

from winidjango.src.db._backends.postgresql import PostgreSqlWriter
from winidjango.src.db._insert import InsertPlan

type Progress = Callable[[type[Model], int], None]


def can_stream(plan: InsertPlan[Any]) -> bool:
    """Whether ``plan`` writes plain rows through a PostgreSQL writer with COPY."""
    writer = plan.writer
    return (
        isinstance(writer, PostgreSqlWriter)
        and writer.uses_copy
        and plan.fast
        # A model whose only column is its key has no values to COPY.
        and bool(plan.fields_without_pk)
    )


class _QueryDuringCopy(Exception):  # noqa: N818 (a signal, not an error)
    """A query was about to run on the connection while its COPY is open."""


class OneCopy[M: Model]:
    """Streams chunks of objects into one ``COPY``; see the module docstring."""

    def __init__(
        self,
        plan: InsertPlan[M],
        keys: deque[int],
        *,
        count_first: bool,
        progress: Progress | None,
        keep_objects: bool,
    ) -> None:
        """Prepare to stream ``plan``'s chunks, taking drawn ``keys`` in order.

        ``count_first``: count each chunk's objects without a key before
        converting it (a generator's chunks, for which no keys were drawn),
        so that a chunk that cannot stream is not converted twice.
        """
        self.plan = plan
        self.keys = keys
        self.count_first = count_first
        self.progress = progress
        self.keep_objects = keep_objects
        self.created: list[M] = []
        self.count = 0
        fields = plan.fields
        self.columns = [str(field.column) for field in fields]
        self.key_index = fields.index(plan.pk_field)
        # The columns of the rows prepare() builds for objects without a key.
        self.keyless_columns = [
            column
            for index, column in enumerate(self.columns)
            if index != self.key_index
        ]
        self.attname = plan.pk_field.attname
        self._left: Iterator[list[M]] | None = None

    def run(self, chunks: Iterator[list[M]]) -> Iterator[list[M]] | None:
        """Stream ``chunks`` until one cannot be; return it and the rest, or None."""
        for chunk in chunks:
            first = self._rows_of(chunk)
            if first is None:
                return chain([chunk], chunks)
            break
        else:
            return None  # nothing to write
        plan = self.plan

        connection = connections[plan.alias]
        copy_open = False

        def refuse_queries(
            execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
        ) -> Any:
            # A query from a field's pre_save while the COPY is open would
            # wait for the connection forever: it ends the COPY instead, and
            # the chunk goes the chunk-by-chunk way.
            if copy_open:
                raise _QueryDuringCopy(sql)
            return execute(sql, params, many, context)

        def stream() -> Iterator[list[tuple[Any, ...]]]:
            nonlocal copy_open
            copy_open = True  # run by the COPY, so only once it has started
            yield from first
            self._handed_over(chunk)
            for later in chunks:
                try:
                    batches = self._rows_of(later)
                except _QueryDuringCopy:
                    batches = None
                if batches is None:
                    self._left = chain([later], chunks)
                    return
                yield from batches
                self._handed_over(later)

        assert isinstance(plan.writer, PostgreSqlWriter)
        # The guard is removed right after the COPY, however it ends: left in
        # place, it would refuse the rollback of a failed one.
        with connection.execute_wrapper(refuse_queries), connection.cursor() as cursor:
            try:
                plan.writer.copy_chunks(cursor, plan.table, self.columns, stream())
            finally:
                copy_open = False
        return self._left

    def _rows_of(self, chunk: list[M]) -> list[list[tuple[Any, ...]]] | None:
        """The chunk's rows for the COPY, keys set; None if it cannot stream."""
        plan = self.plan
        if self.count_first:
            needed = plan.keys_needed(chunk)
            if needed is None or needed > len(self.keys):
                return None
        prepared = plan.prepare(chunk)
        if prepared.compiled:
            return None  # an SQL expression: Django's INSERT compiles it
        for batch in prepared.rows:
            if batch.assigns_keys:
                if len(batch.objs) > len(self.keys) or (
                    batch.columns != self.keyless_columns
                ):
                    return None
            elif batch.columns != self.columns:
                return None
        plan.written.extend(chunk)
        out = []
        for batch in prepared.rows:
            if not batch.assigns_keys:
                out.append(batch.rows)
                continue
            plan.keys_assigned.extend(batch.objs)
            keys = [self.keys.popleft() for _ in batch.objs]
            attname = self.attname
            # Set now, before the next chunk is prepared: its objects may
            # point at these (a model referencing itself).
            for obj, key in zip(batch.objs, keys, strict=True):
                setattr(obj, attname, key)
            out.append(self._with_keys(keys, batch.rows))
        return out

    def _with_keys(
        self, keys: list[int], rows: list[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        index = self.key_index
        if index == 0:
            # Half the time of transposing the rows to columns and back.
            return [(key, *row) for key, row in zip(keys, rows, strict=True)]
        return [
            (*row[:index], key, *row[index:])
            for key, row in zip(keys, rows, strict=True)
        ]

    def _handed_over(self, chunk: list[M]) -> None:
        """The chunk's rows are in the COPY stream: mark it saved, report it."""
        alias = self.plan.alias
        for obj in chunk:
            obj._state.adding = False
            obj._state.db = alias
        if self.keep_objects:
            self.created.extend(chunk)
        else:
            self.count += len(chunk)
        if self.progress is not None:
            self.progress(self.plan.model, len(chunk))


def with_drawn_keys[M: Model](
    plan: InsertPlan[M], chunks: Iterator[list[M]], keys: deque[int]
) -> Iterator[list[M]]:
    """``chunks``, each object without a key given the next drawn key first.

    For the chunks after the COPY ended: the keys drawn for them are theirs,
    in input order, as if the whole bulk had been streamed.
    """
    attname = plan.pk_field.attname
    for chunk in chunks:
        if keys:
            keyless = [obj for obj in chunk if plan.needs_key(obj)][: len(keys)]
            # Recorded before the keys are set, so that a rollback makes
            # these objects keyless again.
            plan.written.extend(keyless)
            plan.keys_assigned.extend(keyless)
            for obj in keyless:
                setattr(obj, attname, keys.popleft())
        yield chunk
