"""Frames and objects loaded with bad rows set aside; see :mod:`.rejects`."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import polars as pl
from django.db import connections, transaction
from django.db.models import Model

from winidjango.src.db._backends import get_writer
from winidjango.src.db._frame import FramePlan
from winidjango.src.db._insert import InsertPlan
from winidjango.src.db.exceptions import BulkInputError
from winidjango.src.db.fields import get_model_meta
from winidjango.src.db.rejects import (
    Reject,
    RejectSink,
    database_reason,
    missing_foreign_keys,
    write_isolating,
)

type Progress = Callable[[type[Model], int], None]


def checked_frame_plan(
    model: type[Model], df: pl.DataFrame, alias: str, sink: RejectSink
) -> tuple[FramePlan | None, pl.DataFrame]:
    """The plan for the rows of ``df`` the checks accept, and those rows.

    The other rows go to ``sink``, whose ``numbers`` are narrowed to the
    accepted rows. Each refusal of the checks names the rows its rule
    refuses (``BulkInputError.rows``); they are set aside and the rest
    checked again, so a frame is checked once per rule that refuses some of
    its rows, plus once. A refusal of the whole frame (an unknown column) is
    raised. The plan is None when no row is left.
    """
    connection = connections[alias]
    while df.height:
        try:
            return FramePlan(model, df, connection), df
        except BulkInputError as error:
            if error.row is None:
                raise
            rows = sorted(set(error.rows or [error.row]))
            column = error.field
            for row in rows:
                value = error.value
                if row != error.row and column in df.columns:
                    value = df.get_column(column)[row - 1]
                sink.add(row - 1, column, error.reason, value)
            doomed = set(rows)
            keep = [row not in doomed for row in range(1, df.height + 1)]
            df = df.filter(pl.Series(keep, dtype=pl.Boolean))
            sink.numbers = [
                number for number, kept in zip(sink.numbers, keep, strict=True) if kept
            ]
    return None, df


def frame_without_refused(
    model: type[Model], df: pl.DataFrame, alias: str, rejects: list[Reject]
) -> tuple[pl.DataFrame, list[int]]:
    """The rows of ``df`` the checks accept, and their 0-based positions in ``df``.

    The refused rows are appended to ``rejects`` (1-based rows of ``df``).
    """
    sink = RejectSink(model, rejects, list(range(1, df.height + 1)))
    _, good = checked_frame_plan(model, df, alias, sink)
    return good, [number - 1 for number in sink.numbers]


def load_frame_rejecting(
    model: type[Model],
    df: pl.DataFrame,
    *,
    step: int,
    alias: str,
    rejects: list[Reject],
    progress: Progress | None,
) -> int:
    """Write the good rows of ``df``; append a :class:`Reject` per bad row."""
    sink = RejectSink(model, rejects, list(range(1, df.height + 1)))
    with transaction.atomic(using=alias):
        plan, _ = checked_frame_plan(model, df, alias, sink)
        if plan is None:
            return 0
        writer = get_writer(connections[alias])
        foreign_keys = _foreign_key_positions(model, plan.columns)
        written = 0
        offset = 0
        for chunk in plan.chunks(step):
            rows = plan.rows(chunk)
            numbers = sink.numbers[offset : offset + len(rows)]
            offset += len(rows)
            chunk_sink = RejectSink(model, rejects, numbers)
            rows = _without_missing_keys(model, alias, rows, foreign_keys, chunk_sink)

            def write(start: int, stop: int, part: Sequence[Any] = rows) -> int:
                with connections[alias].cursor() as cursor:
                    writer.insert_rows(
                        cursor, plan.table, plan.columns, part[start:stop], None
                    )
                return stop - start

            def refused(
                position: int, error: BaseException, part_sink: RejectSink = chunk_sink
            ) -> None:
                part_sink.add(position, None, database_reason(error), None)

            written += write_isolating(alias, len(rows), write, refused)
            if progress is not None:
                progress(model, len(rows))
    return written


def _foreign_key_positions(
    model: type[Model], columns: Sequence[str]
) -> dict[str, int]:
    """``{foreign key attname: position in the INSERT's columns}``."""
    index = {column: position for position, column in enumerate(columns)}
    return {
        field.attname: index[field.column]
        for field in get_model_meta(model).concrete_fields
        if (field.many_to_one or field.one_to_one) and field.column in index
    }


def _set_aside[T](
    items: list[T],
    bad: Mapping[int, tuple[str | None, Any, str]],
    sink: RejectSink,
) -> list[T]:
    """``items`` less the positions in ``bad``, which go to ``sink``.

    ``bad`` is ``{position: (column, value, reason)}``; ``sink.numbers`` is
    narrowed to the kept items.
    """
    if not bad:
        return items
    kept: list[T] = []
    numbers: list[int] = []
    for position, item in enumerate(items):
        if position in bad:
            column, value, reason = bad[position]
            sink.add(position, column, reason, value)
        else:
            kept.append(item)
            numbers.append(sink.numbers[position])
    sink.numbers = numbers
    return kept


def _without_missing_keys(
    model: type[Model],
    alias: str,
    rows: list[tuple[Any, ...]],
    foreign_keys: dict[str, int],
    sink: RejectSink,
) -> list[tuple[Any, ...]]:
    """``rows`` less those whose foreign key points nowhere (set aside)."""
    if not foreign_keys or not rows:
        return rows
    columns = {
        attname: [row[position] for row in rows]
        for attname, position in foreign_keys.items()
    }
    return _set_aside(rows, missing_foreign_keys(model, alias, columns), sink)


def create_objects_rejecting[M: Model](
    plan: InsertPlan[M],
    bulk: Iterable[M],
    *,
    step: int,
    rejects: list[Reject],
    progress: Progress | None,
) -> list[M]:
    """Insert the good objects of ``bulk``; append a :class:`Reject` per bad one.

    An object whose related object is unsaved, whose foreign key points
    nowhere, or that the database refuses is set aside; the others are
    created and returned, keys set. Objects set aside stay unsaved.
    """
    model, alias = plan.model, plan.alias
    objs = list(bulk)
    created: list[M] = []
    with transaction.atomic(using=alias):
        plan.check_up_front(objs)
        for offset in range(0, len(objs), step):
            chunk = objs[offset : offset + step]
            sink = RejectSink(
                model, rejects, list(range(offset + 1, offset + len(chunk) + 1))
            )
            chunk = _with_related_ids(chunk, sink)
            chunk = _without_missing_related(model, alias, chunk, sink)
            had_key = [obj.pk is not None for obj in chunk]

            def write(start: int, stop: int, part: list[M] = chunk) -> int:
                plan.execute(plan.prepare(part[start:stop]))
                return stop - start

            def undo(
                start: int, stop: int, part: list[M] = chunk, keys: list[bool] = had_key
            ) -> None:
                for obj, kept_key in zip(
                    part[start:stop], keys[start:stop], strict=True
                ):
                    obj._state.adding = True
                    obj._state.db = None
                    if not kept_key:
                        obj.pk = None

            def refused(
                position: int, error: BaseException, part_sink: RejectSink = sink
            ) -> None:
                if isinstance(error, BulkInputError):
                    part_sink.add(position, error.field, error.reason, error.value)
                else:
                    part_sink.add(position, None, database_reason(error), None)

            write_isolating(alias, len(chunk), write, refused, undo=undo)
            created.extend(obj for obj in chunk if not obj._state.adding)
            if progress is not None:
                progress(model, len(chunk))
    return created


def _with_related_ids[M: Model](chunk: list[M], sink: RejectSink) -> list[M]:
    """``chunk`` less the objects whose related object is still unsaved."""
    bad: dict[int, tuple[str | None, Any, str]] = {}
    for position, obj in enumerate(chunk):
        try:
            obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
        except ValueError as error:
            bad[position] = (None, None, str(error))
    return _set_aside(chunk, bad, sink)


def _without_missing_related[M: Model](
    model: type[Model], alias: str, chunk: list[M], sink: RejectSink
) -> list[M]:
    """``chunk`` less the objects whose foreign key points to no row."""
    attnames = [
        field.attname
        for field in get_model_meta(model).concrete_fields
        if field.many_to_one or field.one_to_one
    ]
    if not attnames or not chunk:
        return chunk
    columns = {
        attname: [obj.__dict__.get(attname) for obj in chunk] for attname in attnames
    }
    bad = dict(missing_foreign_keys(model, alias, columns))
    return _set_aside(chunk, bad, sink)
