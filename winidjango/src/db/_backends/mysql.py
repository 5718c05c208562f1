"""MySQL and MariaDB: ``UPDATE t JOIN (derived table) ... SET``."""

import re
import weakref
from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from winidjango.src.db._backends.base import BulkSqlWriter, Statement, free_alias

# Binary column types. mysqlclient sends bytes as plain string literals, which
# a derived table's column would read in the connection's character set (and
# refuse, in strict mode, when they are not valid UTF-8); a cast keeps them
# bytes.
_BINARY_TYPES = re.compile(r"^((tiny|medium|long)?blob|(var)?binary)\b", re.IGNORECASE)

# Bytes the driver escapes with a backslash when it spells a value into the
# statement, doubling them.
_ESCAPED = b"\\'\"\0\n\r\x1a"

# The server's max_allowed_packet per connection wrapper, with the driver
# connection it was read on: a reconnect may see a new value.
_packets: weakref.WeakKeyDictionary[BaseDatabaseWrapper, tuple[Any, int]] = (
    weakref.WeakKeyDictionary()
)


def _escaped_bytes(data: bytes) -> int:
    """``data``'s length once escaped: escaped bytes count twice."""
    return 2 * len(data) - len(data.translate(None, _ESCAPED))


def _value_bytes(value: Any) -> int:
    """Bytes ``value`` takes in the statement text, separator included.

    mysqlclient spells every parameter into the statement: a string as its
    UTF-8 bytes in quotes, bytes as ``_binary'...'``, both escaped. A
    4-byte character (an emoji) is one ``str`` character but four bytes.
    """
    if isinstance(value, str):
        return _escaped_bytes(value.encode("utf-8", "surrogatepass")) + 4
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _escaped_bytes(bytes(value)) + 12
    if value is None or isinstance(value, (bool, int, float)):
        # NULL, 1, or at most 20 digits / a 24-character repr, and ", ".
        return _SIMPLE_BYTES
    return len(str(value)) + 8


def _row_bytes(row: Sequence[Any]) -> int:
    return sum(map(_value_bytes, row))


# Types whose values take at most _SIMPLE_BYTES (see _value_bytes).
_SIMPLE = frozenset({type(None), bool, int, float})
_SIMPLE_BYTES = 28


def _values_bytes(rows: Sequence[Sequence[Any]]) -> int:
    """``sum(map(_row_bytes, rows))``, with the per-value work done in C.

    All strings are encoded and escape-counted together, and the fixed-size
    values are only counted: measuring a chunk this way costs a fraction of
    a call of :func:`_value_bytes` per value.
    """
    values = [value for row in rows for value in row]
    strings = [value for value in values if type(value) is str]
    size = 4 * len(strings)
    if strings:
        size += _escaped_bytes("".join(strings).encode("utf-8", "surrogatepass"))
    if len(strings) < len(values):
        others = [value for value in values if type(value) is not str]
        simple = sum(map(_SIMPLE.__contains__, map(type, others)))
        size += _SIMPLE_BYTES * simple
        if simple < len(others):
            size += sum(
                _value_bytes(value) for value in others if type(value) not in _SIMPLE
            )
    return size


def _max_allowed_packet(connection: BaseDatabaseWrapper) -> int:
    """The server's ``max_allowed_packet`` for ``connection``, read once."""
    connection.ensure_connection()
    raw = connection.connection
    cached = _packets.get(connection)
    if cached is not None and cached[0] is raw:
        return cached[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@max_allowed_packet")
        packet = int(cursor.fetchone()[0])
    _packets[connection] = (raw, packet)
    return packet


class MySqlWriter(BulkSqlWriter):
    """Joins the target table to a ``SELECT ... UNION ALL SELECT ...`` table.

    MariaDB cannot name the columns of a VALUES table, so the rows are spelled
    as a UNION ALL of one-row SELECTs whose first row names the columns.

    A statement larger than the server's ``max_allowed_packet`` is refused
    (error 1153, or the connection is dropped), so statements are sized in
    bytes of statement text (:meth:`row_bytes`) against that limit, read from
    the server once per connection.
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        """Read the server's packet limit (one query per connection)."""
        super().__init__(connection)
        packet = _max_allowed_packet(connection)
        # The margin holds the statement's head (column names, the UPDATE
        # around the derived table) and the protocol's own bytes.
        self.max_statement_bytes = min(
            BulkSqlWriter.max_statement_bytes,
            max(packet * 7 // 8 - 16 * 1024, packet // 2),
        )
        # A spelled-out key takes at most 20 digits and a comma.
        self.max_inline_keys = max(
            min(BulkSqlWriter.max_inline_keys, self.max_statement_bytes // 21), 1
        )

    def row_bytes(self, row: Sequence[Any]) -> int:
        """Bytes of statement text ``row`` takes: encoded, escaped, quoted."""
        return _row_bytes(row) + 4

    def statement_parts(
        self,
        rows: Sequence[Sequence[Any]],
        width: int,
        *,
        max_rows: int | None = None,
        row_sql_bytes: int = 0,
    ) -> list[Sequence[Sequence[Any]]]:
        """One statement when all of ``rows`` fit, else split row by row.

        A chunk usually fits in one statement; measuring it as a whole first
        avoids measuring every row.
        """
        fits_rows = max_rows is None or len(rows) <= max_rows
        if (
            rows
            and fits_rows
            and self.max_params_per_statement() is None
            and _values_bytes(rows) + len(rows) * (row_sql_bytes + 4)
            <= self.max_statement_bytes
        ):
            return [rows]
        return super().statement_parts(
            rows, width, max_rows=max_rows, row_sql_bytes=row_sql_bytes
        )

    def value_cast(self, db_type: str | None) -> str | None:
        """``BINARY`` for binary columns, whose values must stay bytes."""
        if db_type is not None and _BINARY_TYPES.match(db_type):
            return "BINARY"
        return None

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
        """Split ``rows`` in bytes as well, counting each row's ``SELECT``."""
        marks = self._marks(casts)
        row_sql = len("SELECT  UNION ALL ") + sum(len(mark) - 2 for mark in marks)
        return [
            self.update_statement(table, pk_column, columns, casts, part)
            for part in self.statement_parts(
                rows, len(columns) + 1, max_rows=max_rows, row_sql_bytes=row_sql
            )
        ]

    def _marks(self, casts: Sequence[str | None]) -> list[str]:
        # Every row casts: the rows of a UNION are typed together, and a
        # binary value in any row must not be read as text.
        return [f"CAST(%s AS {cast})" if cast else "%s" for cast in casts]

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
        marks = self._marks(casts)
        first = "SELECT " + ", ".join(
            f"{mark} AS {quote(name)}" for mark, name in zip(marks, names, strict=True)
        )
        other = "SELECT " + ", ".join(marks)
        derived = " UNION ALL ".join([first] + [other] * (len(rows) - 1))
        v = quote(free_alias(table, *names))
        assignments = ", ".join(
            f"{quote(table)}.{quote(c)} = {v}.{quote(c)}" for c in columns
        )
        sql = (
            f"UPDATE {quote(table)} INNER JOIN ({derived}) AS {v} "
            f"ON {quote(table)}.{quote(pk_column)} = {v}.{quote(pk_column)} "
            f"SET {assignments}"
        )
        return sql, [value for row in rows for value in row]
