"""Count the rows a command writes, and keep a dry run from writing at all.

:class:`WriteLog` counts the rows a command writes, per table, from the SQL
it sends. :class:`DryRunGuard` and :class:`ReadOnlyGuard` refuse, in a dry
run, the statements a rolled-back transaction would not undo.

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
from django.db.backends.base.base import BaseDatabaseWrapper

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


# What may come before a statement's first keyword: whitespace, comments of
# every dialect (``--``, ``#`` in MySQL, ``/* */``) and opening parentheses.
_LEADING = re.compile(
    r"(?:\s+|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL
)
_WORD = re.compile(r"[A-Za-z_]+")
# A SELECT that locks rows or creates a table is no plain read.
_NOT_A_READ = re.compile(
    r"\bINTO\b|\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY|KEY)\b|\bLOCK\s+IN\b",
    re.IGNORECASE,
)
# The first keywords of the statements that can run in a transaction that
# is rolled back later, on a database that cannot roll back DDL (MySQL and
# MariaDB commit the transaction before and after DDL, LOCK TABLES and
# more). Transaction control is refused separately.
_DML_KEYWORDS = frozenset(
    {
        "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES",
        "TABLE", "SHOW", "EXPLAIN", "DESCRIBE", "DESC", "SAVEPOINT", "RELEASE",
        "ROLLBACK", "SET", "DO",
        # LOAD DATA (frames on MariaDB) adds rows; it commits implicitly only
        # for NDB tables, so InnoDB's rollback undoes it like an INSERT.
        "LOAD",
    }
)  # fmt: skip


_CONTROL = [
    [word] for word in ("BEGIN", "START", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")
]


def leading_keywords(sql: str, count: int = 4) -> list[str]:
    r"""The first ``count`` words of ``sql``, upper-case, after comments.

    Comments, whitespace and opening parentheses before the first keyword
    are skipped, so ``/* x */ (INSERT ...`` starts with ``INSERT``.

    Examples:
        >>> leading_keywords("-- note\n WITH n AS (SELECT 1) INSERT INTO t", 2)
        ['WITH', 'N']
    """
    start = _LEADING.match(sql)
    rest = sql[start.end() if start else 0 :]
    return [word.upper() for word in _WORD.findall(rest, 0)[:count]]


def is_plain_read(sql: str) -> bool:
    """Whether ``sql`` is one ``SELECT`` that neither locks nor creates anything.

    Deliberately narrow: anything else (``WITH``, which may hold an
    ``INSERT``; ``SELECT ... INTO``; ``SELECT ... FOR UPDATE``; several
    statements) counts as a write.

    Examples:
        >>> is_plain_read("/* x */ (SELECT 1)")
        True
        >>> is_plain_read("SELECT * INTO copy FROM t")
        False
    """
    words = leading_keywords(sql, 1)
    if words != ["SELECT"]:
        return False
    if _NOT_A_READ.search(sql):
        return False
    # A second statement after a semicolon could be anything.
    return not sql.strip().rstrip(";").count(";")


def _ends_the_transaction(words: list[str], vendor: str) -> bool:
    first = words[0] if words else ""
    if first in {"COMMIT", "END", "BEGIN", "START", "ABORT"}:
        return True
    if first == "ROLLBACK":
        return "TO" not in words[1:4]
    if first == "PREPARE":
        return words[1:2] == ["TRANSACTION"]
    if first == "SET" and vendor == "mysql":
        # SET autocommit = 1 commits what the transaction holds.
        return any("AUTOCOMMIT" in word for word in words[1:3])
    return False


def dry_run_refusal(sql: str, connection: BaseDatabaseWrapper) -> str | None:
    """Why a dry run inside a transaction on ``connection`` must refuse ``sql``.

    ``None`` when the transaction's rollback undoes the statement. Refused:
    statements that end or restart the transaction (``COMMIT``, ``BEGIN``,
    ``ROLLBACK`` without ``TO``...), and, on a database that commits around
    DDL (MySQL, MariaDB: ``features.can_rollback_ddl`` is false), every
    statement but reads and row changes (``DROP``, ``TRUNCATE``,
    ``CREATE``, ``ALTER``, ``LOCK``...).

    Examples:
        >>> dry_run_refusal("COMMIT", connection)  # doctest: +SKIP
        'it would commit or end the transaction the dry run rolls back'
    """
    words = leading_keywords(sql)
    if _ends_the_transaction(words, connection.vendor):
        return "it would commit or end the transaction the dry run rolls back"
    if connection.features.can_rollback_ddl:
        return None
    first = words[0] if words else ""
    if first not in _DML_KEYWORDS:
        return (
            f"{connection.display_name} commits the transaction around "
            f"{first or 'this'} statements, so it could not be rolled back"
        )
    return None


def _refused(alias: str, sql: str, reason: str) -> CommandError:
    shown = " ".join(sql.split())
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return CommandError(
        f"Dry run: refusing {shown!r} on database {alias!r}: {reason}; "
        "nothing was written"
    )


Executor = Callable[..., Any]


class DryRunGuard:
    """An execute wrapper that keeps a dry run inside a rolled-back transaction.

    At the first statement on its connection it calls ``cover(alias)``,
    which opens the dry run's transaction there (to be rolled back when the
    command ends), and only then lets the statement run. Databases the
    command never uses are therefore never connected to. Statements the
    rollback would not undo (see :func:`dry_run_refusal`) become a
    ``CommandError``, which rolls back everything else.

    Examples:
        >>> guard = DryRunGuard("default", connection, cover=command.cover)
        >>> with connection.execute_wrapper(guard):  # doctest: +SKIP
        ...     Author.objects.create(name="Ann")  # inside the transaction
    """

    def __init__(
        self,
        alias: str,
        connection: BaseDatabaseWrapper,
        cover: Callable[[str], None],
    ) -> None:
        self.alias = alias
        self.connection = connection
        self.cover = cover
        self.covered = False
        self._opening = False

    def __call__(
        self,
        execute: Executor,
        sql: str,
        params: Any,
        many: bool,
        context: Mapping[str, Any],
    ) -> Any:
        """Open the transaction if needed, then run the statement or refuse it."""
        if self._opening:
            # The transaction's own BEGIN or SAVEPOINT, sent while opening it.
            return execute(sql, params, many, context)
        if not self.covered:
            self._opening = True
            try:
                self.cover(self.alias)
            finally:
                self._opening = False
            self.covered = True
        reason = dry_run_refusal(sql, self.connection)
        if reason is not None:
            raise _refused(self.alias, sql, reason)
        return execute(sql, params, many, context)


class ReadOnlyGuard:
    """An execute wrapper that lets only plain reads through (:func:`is_plain_read`).

    A dry run installs it on the connections that other threads open while
    it runs (``bulk_*(atomic=False, threads=N)`` workers): their writes
    would be committed on their own connections, outside any transaction the
    command can roll back.

    Examples:
        >>> with connection.execute_wrapper(ReadOnlyGuard("default")):  # doctest: +SKIP
        ...     Author.objects.create(name="Ann")
        Traceback (most recent call last):
        CommandError: Dry run: refusing 'INSERT INTO ...' on database 'default': ...
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(
        self,
        execute: Executor,
        sql: str,
        params: Any,
        many: bool,
        context: Mapping[str, Any],
    ) -> Any:
        """Run ``sql`` if it only reads."""
        # Transaction control writes nothing by itself: every write in the
        # transaction is refused here anyway.
        control = leading_keywords(sql, 1) in _CONTROL
        if not control and not is_plain_read(sql):
            reason = (
                "it runs on another thread's connection, outside the dry run's "
                "transaction"
            )
            raise _refused(self.alias, sql, reason)
        return execute(sql, params, many, context)
