"""MySQL and MariaDB: ``UPDATE t JOIN (derived table) ... SET``."""

import decimal
import os
import re
import tempfile
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.db import IntegrityError
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


# -- LOAD DATA LOCAL INFILE for frames -------------------------------------

# Characters LOAD DATA reads specially in a field (with ESCAPED BY '\\'),
# written as its escape sequences so that every string reads back unchanged.
_LOAD_ESCAPED = ["\\", "\t", "\n", "\r", "\0"]
_LOAD_ESCAPES = ["\\\\", "\\t", "\\n", "\\r", "\\0"]
_NULL = "\\N"
_BYTES_TYPES = (bytes, bytearray, memoryview)


@dataclass
class LoadData:
    """A frame spelled as a LOAD DATA file: its text columns and the SQL tail."""

    #: One text column per column of the file.
    frame: pl.DataFrame
    #: The column list and SET clause after ``LINES TERMINATED BY``.
    targets: str
    #: Parameters of the SET clause (the columns every row shares).
    params: list[Any]


def _text_column(  # noqa: PLR0911 (one return per column type)
    series: pl.Series,
) -> tuple[pl.Series, bool] | None:
    """``series`` as the text LOAD DATA reads; ``True`` if it is hex to UNHEX.

    None when a value has a type this path does not spell exactly: the caller
    then writes the frame with INSERTs.
    """
    dtype = series.dtype
    if dtype == pl.Null:
        return series.cast(pl.String), False
    if dtype == pl.String:
        return series.str.replace_many(_LOAD_ESCAPED, _LOAD_ESCAPES), False
    if dtype == pl.Boolean:
        return series.cast(pl.Int8).cast(pl.String), False
    if dtype.is_integer():
        return series.cast(pl.String), False
    if dtype.is_float():
        # polars spells a float as the shortest text that reads back as the
        # same double; a NaN or an infinity cannot be stored by MariaDB
        # anyway: leave it to INSERT, which raises.
        if not series.is_finite().fill_null(value=True).all():
            return None
        return series.cast(pl.String), False
    if dtype == pl.Object:
        return _object_text(series)
    return None


def _object_text(series: pl.Series) -> tuple[pl.Series, bool] | None:
    """Values converted by their Django field, spelled one by one."""
    values = series.to_list()
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if not kinds:
        return pl.Series(series.name, values, dtype=pl.String), False
    if all(issubclass(kind, _BYTES_TYPES) for kind in kinds):
        text = [None if value is None else bytes(value).hex() for value in values]
        return pl.Series(series.name, text, dtype=pl.String), True
    if kinds <= {str}:
        strings = pl.Series(series.name, values, dtype=pl.String)
        return strings.str.replace_many(_LOAD_ESCAPED, _LOAD_ESCAPES), False
    if kinds <= {decimal.Decimal, int}:
        # A decimal in format "f": never an exponent, every digit kept.
        text = [
            None
            if value is None
            else format(value, "f")
            if type(value) is decimal.Decimal
            else str(value)
            for value in values
        ]
        return pl.Series(series.name, text, dtype=pl.String), False
    return None


class _LoadDataMixin:
    """``LOAD DATA LOCAL INFILE`` of a whole frame, for :class:`MySqlWriter`."""

    quote: Callable[[str], str]
    #: Whether LOAD DATA LOCAL is allowed, once asked.
    _local_infile: bool | None = None

    def can_load_data_infile(self, connection: Any) -> bool:
        """Whether client and server both allow ``LOAD DATA LOCAL INFILE``.

        The client must ask for it (``"local_infile": True`` in the database's
        ``OPTIONS``) and the server must allow it (``@@local_infile``). Asked
        once per writer.
        """
        if self._local_infile is None:
            options = connection.settings_dict.get("OPTIONS") or {}
            allowed = bool(options.get("local_infile"))
            if allowed:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT @@local_infile")
                    allowed = bool(cursor.fetchone()[0])
            self._local_infile = allowed
        return self._local_infile

    def load_data_plan(
        self, frame: pl.DataFrame, columns: Sequence[tuple[str, str | None, Any]]
    ) -> LoadData | None:
        r"""The file and SQL that load ``frame``; None if a value cannot go.

        ``columns`` has one ``(column, frame column or None, constant)`` per
        column of the table the rows set. Per-row values go into a
        tab-separated file, escaped for ``ESCAPED BY '\\'`` (NULL as
        ``\N``); binary values as hex, loaded through ``UNHEX()``; values
        shared by every row (defaults) are bound as parameters of the SET
        clause, exactly as an INSERT would send them.
        """
        quote = self.quote
        texts: list[pl.Series] = []
        targets: list[str] = []
        assignments: list[str] = []
        params: list[Any] = []
        for column, source, constant in columns:
            if source is None:
                assignments.append(f"{quote(column)} = %s")
                params.append(constant)
                continue
            spelled = _text_column(frame.get_column(source))
            if spelled is None:
                return None
            text, is_hex = spelled
            texts.append(text.alias(f"c{len(texts)}"))
            if is_hex:
                variable = f"@v{len(texts)}"
                targets.append(variable)
                assignments.append(f"{quote(column)} = UNHEX({variable})")
            else:
                targets.append(quote(column))
        if not texts:
            return None  # no per-row column: nothing to write a file of
        tail = f"({', '.join(targets)})"
        if assignments:
            tail += " SET " + ", ".join(assignments)
        return LoadData(pl.DataFrame(texts), tail, params)

    def load_data_infile(self, cursor: Any, table: str, load: LoadData) -> int:
        """Load ``load`` into ``table`` from a temporary file; return the rows.

        With ``LOCAL`` the server cannot stop the client's upload halfway, so
        it treats duplicate keys and bad values as warnings and skips the row
        (as with ``IGNORE``). Anything short of every row loaded without a
        warning is therefore raised here as an ``IntegrityError``, which rolls
        back the caller's transaction like a failed INSERT would.
        """
        expected = load.frame.height
        handle, name = tempfile.mkstemp(prefix="winidjango-", suffix=".tsv")
        os.close(handle)
        try:
            load.frame.write_csv(
                name,
                include_header=False,
                separator="\t",
                line_terminator="\n",
                quote_style="never",
                null_value=_NULL,
            )
            sql = (
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {self.quote(table)} "
                "CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
                f"LINES TERMINATED BY '\\n' {load.targets}"
            )
            cursor.execute(sql, [name, *load.params])
            loaded: int = cursor.rowcount
            warnings = cursor.db.connection.warning_count()
            if loaded != expected or warnings:
                cursor.execute("SHOW WARNINGS LIMIT 5")
                shown = "; ".join(str(row[2]) for row in cursor.fetchall())
                message = (
                    f"LOAD DATA into {table} loaded {loaded} of {expected} rows "
                    f"with {warnings} warnings: {shown}"
                )
                raise IntegrityError(message)
        finally:
            os.unlink(name)
        return loaded


class MySqlWriter(_LoadDataMixin, BulkSqlWriter):
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
