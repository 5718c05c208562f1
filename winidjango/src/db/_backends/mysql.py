"""MySQL and MariaDB: ``UPDATE t JOIN (derived table) ... SET``."""

import decimal
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.db import IntegrityError

from winidjango.src.db._backends.base import BulkSqlWriter, Statement

# Binary column types. mysqlclient sends bytes as plain string literals, which
# a derived table's column would read in the connection's character set (and
# refuse, in strict mode, when they are not valid UTF-8); a cast keeps them
# bytes.
_BINARY_TYPES = re.compile(r"^((tiny|medium|long)?blob|(var)?binary)\b", re.IGNORECASE)


# -- LOAD DATA LOCAL INFILE for frames -------------------------------------

# Characters LOAD DATA reads specially in a field (with ESCAPED BY '\\'),
# written as its escape sequences so that every string reads back unchanged.
_ESCAPED = ["\\", "\t", "\n", "\r", "\0"]
_ESCAPES = ["\\\\", "\\t", "\\n", "\\r", "\\0"]
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
        return series.str.replace_many(_ESCAPED, _ESCAPES), False
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
        return strings.str.replace_many(_ESCAPED, _ESCAPES), False
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
