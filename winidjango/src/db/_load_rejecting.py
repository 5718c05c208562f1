"""Frames and objects loaded with bad rows set aside; see :mod:`.rejects`."""

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
from django.db import connections, transaction
from django.db.models import Model

from winidjango.src.db._backends import get_writer
from winidjango.src.db._frame import FramePlan
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
) -> FramePlan | None:
    """The plan for the rows of ``df`` the checks accept; the others go to ``sink``.

    Each refusal of the checks names its first bad row; that row is set
    aside and the rest checked again, so a frame with ``n`` bad rows is
    checked ``n + 1`` times (a refusal that names every row it applies to, in
    ``BulkInputError.rows``, sets them all aside at once). A refusal of the
    whole frame (an unknown column) is raised. Returns None when no row is
    left.
    """
    connection = connections[alias]
    while df.height:
        try:
            return FramePlan(model, df, connection)
        except BulkInputError as error:
            if error.row is None:
                raise
            rows = sorted(set(getattr(error, "rows", None) or [error.row]))
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
    return None


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
        plan = checked_frame_plan(model, df, alias, sink)
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
    missing = missing_foreign_keys(model, alias, columns)
    if not missing:
        return rows
    kept_rows: list[tuple[Any, ...]] = []
    kept_numbers: list[int] = []
    for position, row in enumerate(rows):
        if position in missing:
            name, value, reason = missing[position]
            sink.add(position, name, reason, value)
        else:
            kept_rows.append(row)
            kept_numbers.append(sink.numbers[position])
    sink.numbers = kept_numbers
    return kept_rows
