"""PostgreSQL: ``UPDATE ... FROM (VALUES ...)``."""

import re
from collections.abc import Sequence
from typing import Any

from winidjango.src.db._backends.base import BulkSqlWriter, Statement

# Explicit casts to a sized type cut values short without an error
# ('abcdef'::varchar(3) is 'abc'); cast to the unsized type and let the
# assignment to the column raise instead.
_TEXT_TYPES = re.compile(r"^(varchar|character varying|char|character)\b")
_SIZED_TYPE = re.compile(r"\(\s*\d+(\s*,\s*\d+)?\s*\)")


class PostgreSqlWriter(BulkSqlWriter):
    """Joins the target table to a typed VALUES list in one statement."""

    def value_cast(self, db_type: str | None) -> str | None:
        """The unsized version of ``db_type`` (text for character types)."""
        if db_type is None:
            return None
        if _TEXT_TYPES.match(db_type):
            return "text"
        return _SIZED_TYPE.sub("", db_type)

    def update_statement(
        self,
        table: str,
        pk_column: str,
        columns: Sequence[str],
        casts: Sequence[str | None],
        rows: Sequence[Sequence[Any]],
    ) -> Statement:
        """``UPDATE t SET c = v.c FROM (VALUES (...), ...) AS v(pk, c) WHERE ...``."""
        quote = self.quote
        # PostgreSQL types a VALUES column from its rows; casting the first
        # row's placeholders is enough to type the whole column.
        first_row = ", ".join(f"%s::{cast}" if cast else "%s" for cast in casts)
        other_row = ", ".join(["%s"] * len(casts))
        values = ", ".join([f"({first_row})"] + [f"({other_row})"] * (len(rows) - 1))
        names = ", ".join(quote(name) for name in [pk_column, *columns])
        assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns)
        sql = (
            f"UPDATE {quote(table)} SET {assignments} "
            f"FROM (VALUES {values}) AS v ({names}) "
            f"WHERE {quote(table)}.{quote(pk_column)} = v.{quote(pk_column)}"
        )
        return sql, [value for row in rows for value in row]
