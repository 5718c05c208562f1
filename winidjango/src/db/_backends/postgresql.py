"""PostgreSQL: ``UPDATE ... FROM (VALUES ...)``."""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from winidjango.src.db._backends.base import BulkSqlWriter, Statement

# Explicit casts to a sized type cut values short without an error
# ('abcdef'::varchar(3) is 'abc'); cast to the unsized type and let the
# assignment to the column raise instead.
_TEXT_TYPES = re.compile(r"^(varchar|character varying|char|character)\b")
_SIZED_TYPE = re.compile(r"\(\s*\d+(\s*,\s*\d+)?\s*\)")


def _copy(sql: str, rows: Any, many: bool, context: dict[str, Any]) -> None:
    """Execute ``COPY ... FROM STDIN``, streaming ``rows`` to the server."""
    with context["cursor"].cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


class PostgreSqlWriter(BulkSqlWriter):
    """COPY for inserts; updates join the table to a typed VALUES list."""

    def insert_rows(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        pk_column: str | None,
    ) -> list[Any] | None:
        """Reserve keys from the column's sequence, then COPY the rows in.

        ``nextval`` over ``generate_series`` hands out one key per row in
        order, exactly the keys plain INSERTs would have drawn; COPY then
        streams the rows with their keys in one round trip.
        """
        quote = self.quote
        keys: list[Any] | None = None
        if pk_column is not None:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                "FROM generate_series(1, %s)",
                [quote(table), pk_column, len(rows)],
            )
            keys = [row[0] for row in cursor.fetchall()]
            if keys and keys[0] is None:
                # No sequence behind the key (a custom default): let the
                # database fill it in and read the keys back.
                return super().insert_rows(cursor, table, columns, rows, pk_column)
            columns = [pk_column, *columns]
            rows = [[key, *row] for key, row in zip(keys, rows, strict=True)]
        names = ", ".join(quote(column) for column in columns)
        sql = f"COPY {quote(table)} ({names}) FROM STDIN"
        # Run through Django's execute-wrapper chain, so that wrappers
        # (query logging, a dry run's write count) see the COPY like any
        # INSERT, and driver errors become django.db's (IntegrityError, ...).
        with cursor.db.wrap_database_errors:
            cursor._execute_with_wrappers(sql, rows, many=True, executor=_copy)
        return keys

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
        # CAST(), not %s::type: a bound -9223372036854775808 would read as
        # -(9223372036854775808::bigint), which overflows.
        first_row = ", ".join(f"CAST(%s AS {cast})" if cast else "%s" for cast in casts)
        other_row = ", ".join(["%s"] * len(casts))
        values = ", ".join([f"({first_row})"] + [f"({other_row})"] * (len(rows) - 1))
        names = ", ".join(quote(name) for name in [pk_column, *columns])
        assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns)
        target_pk = f"{quote(table)}.{quote(pk_column)}"
        key_array = f"CAST(%s AS {casts[0]}[])" if casts[0] else "%s"
        # The key list lets the table side use the primary key index, and
        # planner_settings() keep the join a hash join: with stale statistics
        # (a table analyzed while empty, then loaded) PostgreSQL otherwise
        # picks a nested loop over a sequential scan, one scan per row.
        sql = (
            f"UPDATE {quote(table)} SET {assignments} "
            f"FROM (VALUES {values}) AS v ({names}) "
            f"WHERE {target_pk} = v.{quote(pk_column)} "
            f"AND {target_pk} = ANY({key_array})"
        )
        params = [value for row in rows for value in row]
        return sql, [*params, [row[0] for row in rows]]

    @contextmanager
    def planner_settings(self, cursor: Any) -> Iterator[None]:
        """Prefer index scans and hash joins for the bulk UPDATE, then restore.

        ``set_config(..., true)`` is local to the transaction; the previous
        values are put back right after, so a caller's own settings and
        queries in the same transaction are unaffected.
        """
        cursor.execute(
            "SELECT current_setting('enable_seqscan'), "
            "current_setting('enable_nestloop'), "
            "set_config('enable_seqscan', 'off', true), "
            "set_config('enable_nestloop', 'off', true)"
        )
        seqscan, nestloop, _, _ = cursor.fetchone()
        # On error there is nothing to restore: the failed statement aborts
        # the transaction (or savepoint), and its rollback reverts the
        # settings with it.
        yield
        cursor.execute(
            "SELECT set_config('enable_seqscan', %s, true), "
            "set_config('enable_nestloop', %s, true)",
            [seqscan, nestloop],
        )
