"""Bad rows set aside instead of ending a load: what was refused, where and why.

A daily feed is rarely clean. With ``rejects=[]`` the loading functions
(:func:`~winidjango.src.db.bulk.bulk_create_from_frame` and
:func:`~winidjango.src.db.bulk.bulk_create_in_steps`) write every good row
and append one :class:`Reject` per bad row to the list instead of raising:

- rows the checks refuse (type, null, ``max_length``, choices, range, a value
  the field cannot convert, a unique value repeated within the data) are
  found before anything is written;
- rows the database refuses (a unique clash with a row already in the table,
  a foreign key that points nowhere, a check constraint) are found by writing
  each chunk under a savepoint and, when it fails, writing its halves under
  savepoints of their own until the refused rows stand alone. One bad row
  costs about ``2 * log2(step)`` extra statements, not the load.

Row numbers are 1-based positions in the data given to the call, like every
row number winidjango reports. The call is still one transaction: the good
rows are written together or, on any other error, not at all.

Examples:
    >>> rejects: list[Reject] = []
    >>> frame = pl.DataFrame({"name": ["Ann", None, "Bob"]})
    >>> bulk_create_from_frame(Author, frame, rejects=rejects)
    2
    >>> [(r.row, r.column, r.reason) for r in rejects]
    [(2, 'name', 'null, but the field is not nullable')]
"""

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import DataError, IntegrityError, connections, transaction
from django.db.models import Model

from winidjango.src.db.exceptions import BulkInputError
from winidjango.src.db.fields import get_model_meta

__all__ = ["Reject", "RejectLimitError", "write_rejects_csv"]

#: The columns every reject file starts with; the source values follow.
REJECT_COLUMNS = ("row", "model", "column", "reason")


@dataclass(frozen=True)
class Reject:
    """One row that was set aside, and why.

    Attributes:
        row: 1-based position of the row in the data given to the call.
        model: the label of the model the row was meant for
            (``"library.Author"``).
        column: the field or frame column at fault; None when the reason
            spans columns (a unique clash of several fields, a database
            refusal that names no column).
        reason: why the row was refused, in words.
        value: the refused value, where there is one.
    """

    row: int
    model: str
    column: str | None
    reason: str
    value: Any = None


class RejectLimitError(Exception):
    """More rows were refused than allowed; nothing was written.

    Attributes:
        rejects: the rows refused so far (at least ``limit + 1``).
        limit: the number of rejects that was allowed.
    """

    def __init__(self, rejects: Sequence[Reject], limit: int, total: int) -> None:
        """Keep the rejects and the limit they went over."""
        self.rejects = list(rejects)
        self.limit = limit
        super().__init__(
            f"{len(self.rejects)} of {total} rows were refused, more than the "
            f"{limit} allowed; nothing was written"
        )


@dataclass
class RejectSink:
    """Where a call puts its rejects, with the row numbers of the caller's data."""

    model: type[Model]
    rejects: list[Reject]
    #: Row number (1-based, in the caller's data) of each position that is
    #: still being loaded; positions shift as rejected rows are dropped.
    numbers: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The model's label, as reject files name it."""
        return str(get_model_meta(self.model).label)

    def add(self, position: int, column: str | None, reason: str, value: Any) -> None:
        """Record the row at 0-based ``position`` of the data still loading."""
        self.rejects.append(
            Reject(self.numbers[position], self.label, column, reason, value)
        )


def database_reason(error: BaseException) -> str:
    """The first line of a database error, with PostgreSQL's DETAIL line."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    shown = [lines[0].strip()]
    shown += [line.strip() for line in lines[1:] if line.startswith("DETAIL")]
    return f"{type(error).__name__}: {' '.join(shown)}"


def write_isolating(
    alias: str,
    size: int,
    write: Callable[[int, int], int],
    refused: Callable[[int, BaseException], None],
    *,
    undo: Callable[[int, int], None] | None = None,
) -> int:
    """Write positions ``[0, size)`` with ``write(start, stop)``; isolate refusals.

    Each attempt runs in a savepoint and, on PostgreSQL, checks the deferred
    constraints (foreign keys) before the savepoint is released, so that a
    row the database would refuse at commit is refused here. A refused part
    is halved until single rows remain; ``refused(position, error)`` hears of
    each. ``undo(start, stop)`` runs after a failed attempt's rollback, to
    reset what ``write`` changed outside the database (objects marked saved).
    A :class:`~winidjango.src.db.exceptions.BulkInputError` raised by
    ``write`` (a value refused while converting it) is isolated the same way.
    Returns the rows written.
    """
    connection = connections[alias]
    check_now = _deferred_checker(connection)

    def attempt(start: int, stop: int) -> int:
        try:
            with transaction.atomic(using=alias):
                written = write(start, stop)
                check_now()
        except (IntegrityError, DataError, BulkInputError) as error:
            if undo is not None:
                undo(start, stop)
            if stop - start == 1:
                refused(start, error)
                return 0
            middle = (start + stop) // 2
            return attempt(start, middle) + attempt(middle, stop)
        return written

    return attempt(0, size) if size else 0


def _deferred_checker(connection: Any) -> Callable[[], None]:
    """A function that checks now what the database would check at commit."""
    if connection.vendor != "postgresql":
        # MariaDB checks foreign keys per statement; SQLite only at commit,
        # which is why the loaders look up foreign keys before writing there.
        return lambda: None

    def check() -> None:
        with connection.cursor() as cursor:
            # Switching to IMMEDIATE checks the changes made so far at once;
            # switching back keeps the rest of the transaction as it was.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    return check


def missing_foreign_keys(
    model: type[Model],
    alias: str,
    columns: Mapping[str, Sequence[Any]],
) -> dict[int, tuple[str, Any, str]]:
    """Rows whose foreign key points to no row, found with one query per key.

    ``columns`` maps a foreign key's attname to its database values, one per
    row. Returns ``{position: (field name, value, reason)}`` for the rows
    whose non-null key is not in the related table. Used before a write, on
    every backend, because SQLite checks foreign keys only at commit and
    offers no way to check them earlier but a scan of the whole table.
    """
    meta = get_model_meta(model)
    found: dict[int, tuple[str, Any, str]] = {}
    for fk in meta.concrete_fields:
        if not fk.many_to_one and not fk.one_to_one:
            continue
        if fk.attname not in columns or not getattr(fk, "db_constraint", True):
            continue
        values = columns[fk.attname]
        wanted = {value for value in values if value is not None}
        if not wanted:
            continue
        related: Any = fk.related_model
        target = fk.target_field  # type: ignore[attr-defined]
        existing = _existing(related, target, alias, wanted)
        for position, value in enumerate(values):
            if value is not None and value not in existing and position not in found:
                reason = (
                    f"points to no {related.__name__} row ({target.name}={value!r})"
                )
                found[position] = (fk.name, value, reason)
    return found


def _existing(related: Any, target: Any, alias: str, wanted: set[Any]) -> set[Any]:
    """The values of ``wanted`` that ``related``'s ``target`` column holds."""
    existing: set[Any] = set()
    ordered = list(wanted)
    manager = related._base_manager.using(alias)
    for start in range(0, len(ordered), 1000):
        part = ordered[start : start + 1000]
        existing.update(
            manager.filter(**{f"{target.attname}__in": part}).values_list(
                target.attname, flat=True
            )
        )
    # Compared as the database returns them: a text key read back may differ
    # in type (a str subclass) but compares equal.
    return existing


def check_reject_limit(
    rejects: Sequence[Reject], limit: int | float | None, total: int
) -> None:
    """Raise :class:`RejectLimitError` if ``rejects`` go over ``limit``.

    ``limit`` is a number of rows (an int) or a share of ``total`` (a float
    between 0 and 1, e.g. ``0.01`` for 1%); None allows any number.
    """
    if limit is None:
        return
    allowed = int(limit * total) if isinstance(limit, float) else limit
    if len(rejects) > allowed:
        raise RejectLimitError(rejects, allowed, total)


def write_rejects_csv(
    path: str | Path,
    rejects: Iterable[Reject],
    source_rows: Mapping[int, Mapping[str, Any]] | None = None,
    source_columns: Sequence[str] = (),
) -> int:
    """Write ``rejects`` to a CSV file, one line per rejected row; return the count.

    The columns are ``row``, ``model``, ``column``, ``reason``, then
    ``source_columns``: the row's values in the source, looked up in
    ``source_rows`` by row number (empty where a row has none).

    Examples:
        >>> write_rejects_csv("rejects.csv", rejects, {2: {"name": ""}}, ["name"])
        1
    """
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*REJECT_COLUMNS, *source_columns])
        for reject in sorted(rejects, key=lambda r: (r.row, r.model)):
            source = (source_rows or {}).get(reject.row, {})
            writer.writerow(
                [
                    reject.row,
                    reject.model,
                    reject.column or "",
                    reject.reason,
                    *(_text(source.get(name)) for name in source_columns),
                ]
            )
            count += 1
    return count


def _text(value: Any) -> str:
    return "" if value is None else str(value)
