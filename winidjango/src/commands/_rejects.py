"""The import command's bad rows: what was set aside, and the reject file.

:class:`RejectLog` collects, over a whole import (every batch), the rows the
cleaning dropped (with their rule) and the rows the checks or the database
refused (with their reason), each under its 1-based number in the data
``handle_import()`` returned, and writes them to ``--rejects PATH`` as CSV:
``row``, ``model``, ``column``, ``reason``, then the row's source values
under their source column names.
"""

import argparse
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from django.core.management.base import CommandError
from django.db.models import Model

from winidjango.src.commands._checks import check_bulks
from winidjango.src.commands._cleaning import Dropped
from winidjango.src.db.rejects import Reject, write_rejects_csv

__all__ = [
    "RejectLimit",
    "RejectLog",
    "objects_without_refused",
    "reject_kind",
    "reject_limit",
]


@dataclass(frozen=True)
class RejectLimit:
    """``--max-rejects``: a number of rows, or a percentage of the rows read."""

    rows: int | None = None
    percent: float | None = None

    def allowed(self, read: int) -> int:
        """How many rows may be set aside when ``read`` rows were read.

        Examples:
            >>> RejectLimit(percent=1.0).allowed(250)
            2
        """
        if self.rows is not None:
            return self.rows
        assert self.percent is not None
        return int(read * self.percent / 100)

    def __str__(self) -> str:
        return f"{self.rows}" if self.rows is not None else f"{self.percent:g}%"


def reject_limit(text: str) -> RejectLimit:
    """Parse ``--max-rejects`` (``N`` or ``P%``) for argparse.

    Examples:
        >>> reject_limit("0.5%")
        RejectLimit(rows=None, percent=0.5)
    """
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 <= percent <= 100:
                raise ValueError(text)
            return RejectLimit(percent=percent)
        rows = int(text)
        if rows < 0:
            raise ValueError(text)
        return RejectLimit(rows=rows)
    except ValueError:
        message = f"must be a whole number >= 0 or a percentage like 1%, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


@dataclass
class RejectLog:
    """Every row set aside by one import, with its source values."""

    #: ``(row, model label, column, reason)`` per line of the reject file.
    lines: list[tuple[int, str, str | None, str]] = field(default_factory=list)
    #: The source values of the rows above, by row number.
    sources: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The source's column names, in order (from the first batch).
    columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)

    def add_dropped(self, dropped: Iterable[Dropped], cleaning: str) -> None:
        """Record rows the cleaning class ``cleaning`` dropped."""
        for row in dropped:
            reason = f"{row.rule} {row.detail}".strip()
            self.lines.append((row.row, cleaning, row.column, reason))

    def add_refused(
        self, rejects: Iterable[Reject], numbers: Sequence[int] | None
    ) -> None:
        """Record rows a load refused; ``numbers`` maps their rows to the source's.

        A reject's row is its position in the model's data; ``numbers[row -
        1]`` is that row's number in the source, where the model's data has
        one row per cleaned row. Without ``numbers`` the position is kept.
        """
        for reject in rejects:
            row = numbers[reject.row - 1] if numbers is not None else reject.row
            self.lines.append((row, reject.model, reject.column, reject.reason))

    def keep_sources(self, raw: pl.DataFrame, first_row: int) -> None:
        """Keep the source values of the rows recorded from ``raw``.

        ``raw`` is the source (or a batch of it) whose first row has number
        ``first_row``; only the rows already recorded are kept, so memory
        follows the number of bad rows, not the size of the source.
        """
        if not self.columns:
            self.columns = list(raw.columns)
        last = first_row + raw.height
        for row, *_ in self.lines:
            if first_row <= row < last and row not in self.sources:
                self.sources[row] = raw.row(row - first_row, named=True)

    def write(self, path: str | Path) -> int:
        """Write the reject file; return its number of lines (rows)."""
        rejects = [
            Reject(row, label, column, reason)
            for row, label, column, reason in self.lines
        ]
        return write_rejects_csv(path, rejects, self.sources, self.columns)


def objects_without_refused(
    model: type[Model], objs: Sequence[Model], rejects: list[Reject]
) -> tuple[list[Model], list[int]]:
    """The objects the import's checks accept, and their 0-based positions.

    Each unsaved object is checked on its own (type, null, ``max_length``,
    conversion); a refused one is appended to ``rejects``. Two objects
    sharing a unique value pass here: the database refuses the second when
    it is written, and the write sets it aside.
    """
    label = str(model._meta.label)
    kept: list[Model] = []
    positions: list[int] = []
    for position, obj in enumerate(objs):
        try:
            check_bulks({model: [obj]})
        except CommandError as error:
            # The check numbers its one object "row 1"; the reject has the row.
            reason = str(error).replace(f"{label} row 1", label, 1)
            rejects.append(Reject(position + 1, label, None, reason))
            continue
        kept.append(obj)
        positions.append(position)
    return kept, positions


def reject_kind(reason: str) -> str:
    """A reason without the values in it, to count rows per kind of reason.

    Examples:
        >>> reject_kind("points to no Author row (id=7)")
        'points to no Author row'
        >>> reject_kind("IntegrityError: duplicate key DETAIL: Key (name)=(Ann)")
        'IntegrityError: duplicate key'
    """
    reason = reason.split(" DETAIL", 1)[0]
    return re.sub(r"\s*\([^()]*\)$", "", reason)
