"""SQLite: ``UPDATE ... FROM (VALUES ...)`` (SQLite 3.33 and newer)."""

from collections.abc import Sequence
from typing import Any

from winidjango.src.db._backends.base import BulkSqlWriter, Statement, free_alias


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
        """One prepared INSERT run for every row; new keys chosen consecutively.

        SQLite does not promise that ``RETURNING`` lists rows in insertion
        order, so only the first row is inserted without a key, and its key
        read back; the others take the keys after it. SQLite gave the first
        row a key past both the largest key in the table and the
        AUTOINCREMENT high-water mark, so the keys after it are free too, and
        the write lock taken by that first INSERT keeps them free.

        Writing first matters: a transaction that read the table (say its
        largest key) before writing cannot wait for a concurrent writer, as
        SQLite would deadlock, so it fails at once with "database is locked";
        one whose first statement writes waits for the busy timeout.
        """
        quote = self.quote
        keys: list[Any] | None = None
        if pk_column is not None and rows:
            first_key = self._insert_first(cursor, table, columns, rows[0], pk_column)
            if type(first_key) is not int:
                # Not an integer key: no "next" key to hand out.
                keys = [first_key]
                for row in rows[1:]:
                    keys.append(
                        self._insert_first(cursor, table, columns, row, pk_column)
                    )
                return keys
            keys = list(range(first_key, first_key + len(rows)))
            columns = [pk_column, *columns]
            rows = [[key, *row] for key, row in zip(keys[1:], rows[1:], strict=True)]
        names = ", ".join(quote(column) for column in columns)
        placeholders = ", ".join(["%s"] * len(columns))
        if rows:
            cursor.executemany(
                f"INSERT INTO {quote(table)} ({names}) VALUES ({placeholders})", rows
            )
        return keys

    def _insert_first(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[str],
        row: Sequence[Any],
        pk_column: str,
    ) -> Any:
        """Insert ``row`` with a key SQLite assigns; return that key."""
        quote = self.quote
        names = ", ".join(quote(column) for column in columns)
        placeholders = ", ".join(["%s"] * len(columns))
        values = f"({names}) VALUES ({placeholders})" if columns else "DEFAULT VALUES"
        cursor.execute(
            f"INSERT INTO {quote(table)} {values} RETURNING {quote(pk_column)}", row
        )
        return cursor.fetchone()[0]

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
        v = quote(free_alias(table, *columns, pk_column))
        row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
        values = ", ".join([row] * len(rows))
        assignments = ", ".join(
            f"{quote(column)} = {v}.column{position}"
            for position, column in enumerate(columns, start=2)
        )
        sql = (
            f"UPDATE {quote(table)} SET {assignments} "
            f"FROM (VALUES {values}) AS {v} "
            f"WHERE {quote(table)}.{quote(pk_column)} = {v}.column1"
        )
        return sql, [value for row in rows for value in row]
