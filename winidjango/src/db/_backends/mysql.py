"""MySQL and MariaDB: ``UPDATE t JOIN (derived table) ... SET``."""

from collections.abc import Sequence
from typing import Any

from winidjango.src.db._backends.base import BulkSqlWriter, Statement


class MySqlWriter(BulkSqlWriter):
    """Joins the target table to a ``SELECT ... UNION ALL SELECT ...`` table.

    MariaDB cannot name the columns of a VALUES table, so the rows are spelled
    as a UNION ALL of one-row SELECTs whose first row names the columns.
    """

    def update_statement(
        self,
        table: str,
        pk_column: str,
        columns: Sequence[str],
        casts: Sequence[str | None],
        rows: Sequence[Sequence[Any]],
    ) -> Statement:
        """``UPDATE t JOIN (SELECT %s AS pk, ...) AS v ON t.pk = v.pk SET ...``."""
        quote = self.quote
        names = [pk_column, *columns]
        first = "SELECT " + ", ".join(f"%s AS {quote(name)}" for name in names)
        other = "SELECT " + ", ".join(["%s"] * len(names))
        derived = " UNION ALL ".join([first] + [other] * (len(rows) - 1))
        assignments = ", ".join(
            f"{quote(table)}.{quote(c)} = v.{quote(c)}" for c in columns
        )
        sql = (
            f"UPDATE {quote(table)} INNER JOIN ({derived}) AS v "
            f"ON {quote(table)}.{quote(pk_column)} = v.{quote(pk_column)} "
            f"SET {assignments}"
        )
        return sql, [value for row in rows for value in row]
