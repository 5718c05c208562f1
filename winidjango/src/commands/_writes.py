"""Count the rows a command writes, per table, from the SQL it sends.

A dry run has to say what it would have written, for any command, including
ones that write with plain ``Model.objects.create()``. Watching the SQL on the
command's connections is the one place every write passes through. Row counts
come from the driver's ``cursor.rowcount``, read when the summary is made and
not when the statement runs, because SQLite only knows the count of an
``INSERT ... RETURNING`` after Django has fetched the returned rows.

Only the connections of the command's own thread are watched; a bulk call that
writes from worker threads on their own connections is outside both the
command's transaction and this count.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import CommandError

_WRITE = re.compile(
    r"""^\s*(?:
          (?P<verb>INSERT|UPDATE|DELETE|REPLACE|COPY)\b
          (?:\s+(?:IGNORE|OR\s+\w+))?      # INSERT IGNORE / INSERT OR REPLACE
          (?:\s+(?:INTO|FROM))?\s+
        | (?P<load>LOAD)\s+DATA\s+(?:LOCAL\s+)?INFILE\s+\S+\s+  # MariaDB frames
          (?:(?:REPLACE|IGNORE)\s+)?INTO\s+TABLE\s+
        )
        [`"\[]?(?P<table>[\w.$]+)""",
    re.IGNORECASE | re.VERBOSE,
)
_VERB_WORDS = {
    "INSERT": "inserted into",
    # PostgreSQL bulk creates stream rows with COPY ... FROM STDIN.
    "COPY": "inserted into",
    # MariaDB frames: LOAD DATA LOCAL INFILE.
    "LOAD": "inserted into",
    "REPLACE": "replaced in",
    "UPDATE": "updated in",
    "DELETE": "deleted from",
}


def _count(cursor: Any, unknown: int) -> int:
    rowcount = getattr(cursor, "rowcount", -1)
    # -1 means the driver does not know; one row per statement (or per
    # executemany parameter set) is then the honest lower bound.
    return rowcount if isinstance(rowcount, int) and rowcount >= 0 else unknown


@dataclass
class WriteLog:
    """An execute wrapper that remembers every write statement it sees.

    Install it with ``connection.execute_wrapper(log)``; read the result with
    :meth:`rows_by_table` or :meth:`describe`.

    Examples:
        >>> from django.db import connection
        >>> log = WriteLog()
        >>> with connection.execute_wrapper(log):  # doctest: +SKIP
        ...     Author.objects.create(name="Ann")
        >>> log.describe()  # doctest: +SKIP
        '1 row inserted into testapp_author'
    """

    _rows: dict[tuple[str, str], int] = field(default_factory=dict, init=False)
    _pending: list[tuple[tuple[str, str], Any, int]] = field(
        default_factory=list, init=False, repr=False
    )

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: Mapping[str, Any],
    ) -> Any:
        """Run the statement, and remember it if it writes."""
        result = execute(sql, params, many, context)
        match = _WRITE.match(sql)
        if match is None:
            return result
        key = ((match["verb"] or match["load"]).upper(), match["table"])
        cursor = context.get("cursor")
        batches = len(params) if many and isinstance(params, Sequence) else 1
        if _count(cursor, 0) == 0 and "RETURNING" in sql.upper():
            self._pending.append((key, cursor, batches))
        else:
            self._rows[key] = self._rows.get(key, 0) + _count(cursor, batches)
        return result

    def rows_by_table(self) -> dict[tuple[str, str], int]:
        """Rows written, keyed by ``(verb, table)``, verbs upper-case.

        Statements that touched no row (an ``UPDATE`` for ``SET_NULL`` with
        nothing to update) are left out.

        Examples:
            >>> WriteLog().rows_by_table()
            {}
        """
        totals = dict(self._rows)
        for key, cursor, batches in self._pending:
            totals[key] = totals.get(key, 0) + _count(cursor, batches)
        return {key: rows for key, rows in totals.items() if rows}

    def describe(self) -> str:
        """One line saying what was written, or that nothing was.

        Examples:
            >>> WriteLog().describe()
            'no rows written'
        """
        parts = []
        for (verb, table), rows in sorted(self.rows_by_table().items()):
            noun = "row" if rows == 1 else "rows"
            parts.append(f"{rows} {noun} {_VERB_WORDS[verb]} {table}")
        return ", ".join(parts) if parts else "no rows written"


class WriteGuard:
    """An execute wrapper that refuses writes a dry run could not roll back.

    A dry run's transaction covers the databases the command included; a
    write that the router sends to any other database would be committed for
    real. Installed on those other connections, this guard turns such a write
    into a ``CommandError`` (which rolls back everything else) instead.
    ``covered(alias)`` is asked at every write, so a database the command
    includes later is let through from then on.

    Examples:
        >>> guard = WriteGuard("replica", covered=lambda alias: False)
        >>> with connections["replica"].execute_wrapper(guard):  # doctest: +SKIP
        ...     Author.objects.using("replica").create(name="Ann")
        Traceback (most recent call last):
        CommandError: Dry run: refusing to write to database 'replica', ...
    """

    def __init__(self, alias: str, covered: Callable[[str], bool]) -> None:
        self.alias = alias
        self.covered = covered

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: Mapping[str, Any],
    ) -> Any:
        """Run the statement unless it writes outside the dry run's transaction."""
        if _WRITE.match(sql) is not None and not self.covered(self.alias):
            message = (
                f"Dry run: refusing to write to database {self.alias!r}, which the "
                f"command's transaction does not cover; pass --database "
                f"{self.alias} or call include_in_transaction({self.alias!r}) first"
            )
            raise CommandError(message)
        return execute(sql, params, many, context)
