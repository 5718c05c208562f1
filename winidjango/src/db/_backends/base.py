"""The interface every backend writer implements."""

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

type Statement = tuple[str, list[Any]]

#: The range of a signed 64-bit integer column, the widest integer key type.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class BulkSqlWriter:
    """Builds the SQL of bulk write paths for one database connection.

    Writers only build statements; they never execute them, so they can run on
    helper threads while the owning thread executes earlier statements.
    """

    #: Whether several writer threads, each on its own connection, can write
    #: at the same time. False where the database serializes all writers.
    supports_concurrent_writers = True

    #: True for a backend winidjango has no writer of its own for: objects
    #: are then inserted with Django's insert compiler and deleted through
    #: Django's Collector (see ``fallback.DjangoWriter``).
    uses_django_sql = False

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        """Keep the connection for quoting and type names; no query is run."""
        self.connection = connection
        self.quote = connection.ops.quote_name

    def insert_rows(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        pk_column: str | None,
    ) -> list[Any] | None:
        """Insert ``rows`` (database values, in ``columns`` order).

        With ``pk_column``, the database generates the primary keys and they are
        returned in row order; without, the rows carry their keys and None is
        returned. The default: multi-row INSERTs with ``RETURNING`` (MariaDB
        10.5+), split to respect the parameter limit and a size budget.
        """
        quote = self.quote
        names = ", ".join(quote(column) for column in columns)
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        returning = f" RETURNING {quote(pk_column)}" if pk_column else ""
        keys: list[Any] | None = [] if pk_column else None
        for part in self.statement_parts(rows, len(columns)):
            values = ", ".join([placeholders] * len(part))
            sql = f"INSERT INTO {quote(table)} ({names}) VALUES {values}{returning}"
            cursor.execute(sql, [value for row in part for value in row])
            if keys is not None:
                keys.extend(row[0] for row in cursor.fetchall())
        return keys

    def statement_parts(
        self,
        rows: Sequence[Sequence[Any]],
        width: int,
        *,
        max_rows: int | None = None,
        row_sql_bytes: int = 0,
    ) -> list[Sequence[Sequence[Any]]]:
        """Split ``rows`` into statements of bounded size.

        Each part stays within the parameter limit (or ``max_rows``) and about
        :attr:`max_statement_bytes`, counting :meth:`row_bytes` per row plus
        ``row_sql_bytes`` of SQL text the statement spends on each row.
        """
        if max_rows is None:
            limit = self.max_params_per_statement()
            max_rows = len(rows) if limit is None else max(limit // max(width, 1), 1)
        budget = self.max_statement_bytes
        measure = self.row_bytes
        parts: list[Sequence[Sequence[Any]]] = []
        start, size = 0, 0
        for index, row in enumerate(rows):
            row_size = measure(row) + row_sql_bytes
            if index > start and (
                index - start >= max_rows or size + row_size > budget
            ):
                parts.append(rows[start:index])
                start, size = index, 0
            size += row_size
        if start < len(rows):
            parts.append(rows[start:])
        return parts

    def row_bytes(self, row: Sequence[Any]) -> int:
        """About how much of a statement ``row``'s values take.

        Here the length of its text and binary values: PostgreSQL and SQLite
        have no packet limit a statement must fit, only a memory cost to
        bound. MariaDB counts exact bytes (see its writer).
        """
        return sum(len(value) for value in row if isinstance(value, (str, bytes)))

    #: Bytes per multi-row statement before it is split, as counted by
    #: :meth:`row_bytes`; MariaDB lowers it to fit the server's packet limit.
    max_statement_bytes = 8 * 1024 * 1024

    def max_params_per_statement(self) -> int | None:
        """The bind-parameter limit of one statement, or None if unlimited."""
        limit: int | None = self.connection.features.max_query_params
        return limit

    #: Keys spelled out in one DELETE: about 20 bytes each, so a statement
    #: stays far below :attr:`max_statement_bytes`.
    max_inline_keys = 100_000

    def delete_rows(
        self, cursor: Any, table: str, pk_column: str, keys: Sequence[Any]
    ) -> int:
        """Delete the rows of ``table`` whose primary key is in ``keys``.

        ``keys`` are database values (already converted by the field). Returns
        how many rows the database reports deleted. Plain integers are written
        into the SQL as digits: for 1,000 keys, the driver's quoting of 1,000
        parameters costs more than the DELETE itself, and a Python ``int``
        spelled by ``str()`` cannot be anything but a number. Other keys are
        bound as parameters.
        """
        quote = self.quote
        head = f"DELETE FROM {quote(table)} WHERE {quote(pk_column)} IN "
        deleted = 0
        if plain_integers(keys):
            step = self.max_inline_keys
            for start in range(0, len(keys), step):
                digits = ",".join(map(str, keys[start : start + step]))
                cursor.execute(f"{head}({digits})")
                deleted += cursor.rowcount
            return deleted
        for part in self.statement_parts([[key] for key in keys], 1):
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(f"{head}({marks})", [row[0] for row in part])
            deleted += cursor.rowcount
        return deleted

    def value_cast(self, db_type: str | None) -> str | None:
        """The SQL type a bound value must be cast to in a VALUES list, if any."""
        return None

    def planner_settings(self, cursor: Any) -> AbstractContextManager[None]:
        """Session settings the bulk UPDATE statements run under (none here)."""
        return nullcontext()

    def update_statements(
        self,
        table: str,
        pk_column: str,
        columns: Sequence[str],
        casts: Sequence[str | None],
        rows: Sequence[Sequence[Any]],
        *,
        max_rows: int,
    ) -> list[Statement]:
        """The statements updating ``rows``: :meth:`update_statement` per part.

        Here split by row count only: PostgreSQL and SQLite take statements
        far larger than a chunk's, and measuring every value would slow
        every update down. MariaDB also splits by size (see its writer).
        """
        return [
            self.update_statement(
                table, pk_column, columns, casts, rows[start : start + max_rows]
            )
            for start in range(0, len(rows), max_rows)
        ]

    def update_statement(
        self,
        table: str,
        pk_column: str,
        columns: Sequence[str],
        casts: Sequence[str | None],
        rows: Sequence[Sequence[Any]],
    ) -> Statement:
        """One statement setting ``columns`` of ``table`` for each row.

        Each row is ``[pk, value_1, ..., value_n]``, already converted for the
        database; ``casts`` has one entry per row item (pk first).
        """
        raise NotImplementedError


def plain_integers(values: Sequence[Any]) -> bool:
    """Whether every value is an ``int`` (not a bool) that fits 64 bits.

    Such values can be written into SQL as their decimal digits: the result is
    exactly what binding them as parameters would send. The type test runs
    over the whole list at C speed.
    """
    if not values or not {int}.issuperset(map(type, values)):
        return False
    return bool(min(values) >= _INT64_MIN and max(values) <= _INT64_MAX)


def free_alias(*names: str) -> str:
    """A table alias unlike every name in ``names`` (tables, columns).

    The alias of the joined values (``v``) must not be the name of the table
    being written (a model with ``db_table = "v"``) nor of a column in the
    same statement; names are compared case-insensitively, as MariaDB and
    SQLite compare them.
    """
    taken = {name.lower() for name in names}
    alias, number = "v", 0
    while alias in taken:
        number += 1
        alias = f"v{number}"
    return alias
