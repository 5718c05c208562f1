"""SQLite: ``UPDATE ... FROM (VALUES ...)`` (SQLite 3.33 and newer)."""

from collections.abc import Sequence
from typing import Any

from winidjango.src.db._backends.base import BulkSqlWriter, Statement


class SqliteWriter(BulkSqlWriter):
    """Joins the target table to a VALUES list; SQLite names its columns columnN."""

    # SQLite allows one writer at a time; parallel writer threads only queue.
    supports_concurrent_writers = False

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
