"""SQLite: ``UPDATE ... FROM (VALUES ...)`` (SQLite 3.33 and newer)."""

from collections.abc import Sequence
from typing import Any

from winidjango.src.db._backends.base import BulkSqlWriter, Statement


class SqliteWriter(BulkSqlWriter):
    """Prepared ``executemany`` inserts; updates join a VALUES list."""

    # SQLite allows one writer at a time; parallel writer threads only queue.
    supports_concurrent_writers = False

    def insert_rows(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        pk_column: str | None,
    ) -> list[Any] | None:
        """One prepared INSERT run for every row, with keys reserved up front.

        SQLite does not promise that ``RETURNING`` lists rows in insertion
        order, so new integer keys are chosen here: past both the largest key
        in the table and the AUTOINCREMENT high-water mark, as SQLite itself
        would. The caller's transaction holds the write lock from the first
        insert on; a concurrent writer in between makes the insert fail on the
        unique key, never write a duplicate.
        """
        quote = self.quote
        keys: list[Any] | None = None
        if pk_column is not None:
            start = self._next_key(cursor, table, pk_column)
            keys = list(range(start, start + len(rows)))
            columns = [pk_column, *columns]
            rows = [[key, *row] for key, row in zip(keys, rows, strict=True)]
        names = ", ".join(quote(column) for column in columns)
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {quote(table)} ({names}) VALUES ({placeholders})", rows
        )
        return keys

    def _next_key(self, cursor: Any, table: str, pk_column: str) -> int:
        quote = self.quote
        cursor.execute(f"SELECT MAX({quote(pk_column)}) FROM {quote(table)}")
        largest = cursor.fetchone()[0] or 0
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cursor.fetchone() is not None:
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            found = cursor.fetchone()
            if found is not None and found[0] is not None:
                largest = max(largest, found[0])
        return int(largest) + 1

    def update_statement(
        self,
        table: str,
        pk_column: str,
        columns: Sequence[str],
        casts: Sequence[str | None],
        rows: Sequence[Sequence[Any]],
    ) -> Statement:
        """``UPDATE t SET c = v.column2 FROM (VALUES ...) AS v WHERE ...``."""
        quote = self.quote
        row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
        values = ", ".join([row] * len(rows))
        assignments = ", ".join(
            f"{quote(column)} = v.column{position}"
            for position, column in enumerate(columns, start=2)
        )
        sql = (
            f"UPDATE {quote(table)} SET {assignments} "
            f"FROM (VALUES {values}) AS v "
            f"WHERE {quote(table)}.{quote(pk_column)} = v.column1"
        )
        return sql, [value for row in rows for value in row]
