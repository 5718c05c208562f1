"""Any other backend: the SQL Django itself would send, statement by statement."""

from collections.abc import Sequence
from typing import Any

from winidjango.src.db._backends.base import BulkSqlWriter, Statement


class DjangoWriter(BulkSqlWriter):
    """For a database winidjango has no writer for (not built on Django's three).

    Nothing here assumes more of the database than Django's own ``save()``
    and ``bulk_create()`` do: objects are inserted by Django's insert
    compiler (the ``bulk_create`` SQL, keys read back the backend's way) and
    deleted through Django's ``Collector``; updates are one ``UPDATE ...
    WHERE pk = %s`` per object, as ``save(update_fields=...)`` sends; frames
    are a plain ``INSERT`` run with ``executemany``. Correct rather than
    fast, and one writer at a time.
    """

    uses_django_sql = True
    supports_concurrent_writers = False

    def insert_rows(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        pk_column: str | None,
    ) -> list[Any] | None:
        """One prepared INSERT for every row; keys read back one by one."""
        quote = self.quote
        names = ", ".join(quote(column) for column in columns)
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})"
        if pk_column is None:
            cursor.executemany(sql, rows)
            return None
        keys = []
        for row in rows:
            cursor.execute(sql, row)
            keys.append(self.connection.ops.last_insert_id(cursor, table, pk_column))
        return keys

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
        """One ``UPDATE`` per row, whatever ``max_rows``."""
        return [
            self.update_statement(table, pk_column, columns, casts, [row])
            for row in rows
        ]

    def update_statement(
        self,
        table: str,
        pk_column: str,
        columns: Sequence[str],
        casts: Sequence[str | None],
        rows: Sequence[Sequence[Any]],
    ) -> Statement:
        """``UPDATE t SET c = %s, ... WHERE pk = %s`` for the one row in ``rows``."""
        (row,) = rows
        quote = self.quote
        assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
        sql = f"UPDATE {quote(table)} SET {assignments} WHERE {quote(pk_column)} = %s"
        return sql, [*row[1:], row[0]]
