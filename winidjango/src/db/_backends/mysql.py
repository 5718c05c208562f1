"""MySQL and MariaDB: ``UPDATE t JOIN (derived table) ... SET``."""

import re
from collections.abc import Sequence
from typing import Any

from winidjango.src.db._backends.base import BulkSqlWriter, Statement

# Binary column types. mysqlclient sends bytes as plain string literals, which
# a derived table's column would read in the connection's character set (and
# refuse, in strict mode, when they are not valid UTF-8); a cast keeps them
# bytes.
_BINARY_TYPES = re.compile(r"^((tiny|medium|long)?blob|(var)?binary)\b", re.IGNORECASE)


class MySqlWriter(BulkSqlWriter):
    """Joins the target table to a ``SELECT ... UNION ALL SELECT ...`` table.

    MariaDB cannot name the columns of a VALUES table, so the rows are spelled
    as a UNION ALL of one-row SELECTs whose first row names the columns.
    """

    def value_cast(self, db_type: str | None) -> str | None:
        """``BINARY`` for binary columns, whose values must stay bytes."""
        if db_type is not None and _BINARY_TYPES.match(db_type):
            return "BINARY"
        return None

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
        # Every row casts: the rows of a UNION are typed together, and a
        # binary value in any row must not be read as text.
        marks = [f"CAST(%s AS {cast})" if cast else "%s" for cast in casts]
        first = "SELECT " + ", ".join(
            f"{mark} AS {quote(name)}" for mark, name in zip(marks, names, strict=True)
        )
        other = "SELECT " + ", ".join(marks)
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
