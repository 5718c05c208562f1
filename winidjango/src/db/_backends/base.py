"""The interface every backend writer implements."""

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

type Statement = tuple[str, list[Any]]


class BulkSqlWriter:
    """Builds the SQL of bulk write paths for one database connection.

    Writers only build statements; they never execute them, so they can run on
    helper threads while the owning thread executes earlier statements.
    """

    #: Whether several writer threads, each on its own connection, can write
    #: at the same time. False where the database serializes all writers.
    supports_concurrent_writers = True

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
        self, rows: Sequence[Sequence[Any]], width: int
    ) -> list[Sequence[Sequence[Any]]]:
        """Split ``rows`` into statements of bounded size.

        Each part stays within the parameter limit and about
        :attr:`max_statement_bytes` of text and binary values.
        """
        limit = self.max_params_per_statement()
        max_rows = len(rows) if limit is None else max(limit // max(width, 1), 1)
        parts: list[Sequence[Sequence[Any]]] = []
        start, size = 0, 0
        for index, row in enumerate(rows):
            row_size = sum(
                len(value) for value in row if isinstance(value, (str, bytes))
            )
            if index > start and (
                index - start >= max_rows or size + row_size > self.max_statement_bytes
            ):
                parts.append(rows[start:index])
                start, size = index, 0
            size += row_size
        if start < len(rows):
            parts.append(rows[start:])
        return parts

    #: Text and binary bytes per multi-row statement before it is split; keeps
    #: statements under the server's packet limit (MariaDB: 16 MiB default).
    max_statement_bytes = 8 * 1024 * 1024

    def max_params_per_statement(self) -> int | None:
        """The bind-parameter limit of one statement, or None if unlimited."""
        limit: int | None = self.connection.features.max_query_params
        return limit

    def value_cast(self, db_type: str | None) -> str | None:
        """The SQL type a bound value must be cast to in a VALUES list, if any."""
        return None

    def planner_settings(self, cursor: Any) -> AbstractContextManager[None]:
        """Session settings the bulk UPDATE statements run under (none here)."""
        return nullcontext()

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
