"""PostgreSQL: ``UPDATE ... FROM (VALUES ...)``."""

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from winidjango.src.db._backends.base import (
    BulkSqlWriter,
    Statement,
    free_alias,
    plain_integers,
)

# Explicit casts to a sized type cut values short without an error
# ('abcdef'::varchar(3) is 'abc'); cast to the unsized type and let the
# assignment to the column raise instead.
_TEXT_TYPES = re.compile(r"^(varchar|character varying|char|character)\b")
_SIZED_TYPE = re.compile(r"\(\s*\d+(\s*,\s*\d+)?\s*\)")


# Element types whose arrays psycopg and PostgreSQL carry exactly; a column of
# any other type (arrays, ranges, geometries, extension types) is updated
# through a VALUES list instead.
_ARRAY_ELEMENT_TYPES = frozenset(
    {
        "bigint",
        "boolean",
        "bytea",
        "date",
        "double precision",
        "integer",
        "interval",
        "jsonb",
        "numeric",
        "real",
        "smallint",
        "text",
        "time",
        "timestamp",
        "timestamp with time zone",
        "uuid",
    }
)
# Values psycopg adapts as something other than an array element.
_NOT_ELEMENTS = (list, tuple, dict, set, frozenset)


def _text_array(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of strings (and None), for ``CAST(... AS text[])``.

    Every element is double-quoted, with backslashes and double quotes
    escaped: the array input syntax that reads back any string unchanged
    (NUL aside, which PostgreSQL text cannot hold). Most columns hold neither
    character, and are then joined without looking at each string.
    """
    if None not in values:
        together = "".join(values)
        if "\\" not in together and '"' not in together:
            return '{"' + '","'.join(values) + '"}'
    return (
        "{"
        + ",".join(
            [
                "NULL"
                if value is None
                else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
                for value in values
            ]
        )
        + "}"
    )


def _spelled_array(values: Sequence[Any], spell: Callable[[Any], str]) -> str:
    """An array literal of values that ``spell`` writes without quotes."""
    if None in values:
        return "{" + ",".join(["NULL" if v is None else spell(v) for v in values]) + "}"
    return "{" + ",".join(map(spell, values)) + "}"


def _bool_text(value: bool) -> str:
    return "t" if value else "f"


def _int_array(values: Sequence[Any]) -> str | None:
    """Integers as an array literal; None if one does not fit 64 bits."""
    present = (
        [value for value in values if value is not None] if None in values else values
    )
    if present and not plain_integers(present):
        return None
    return _spelled_array(values, str)


def _float_array(values: Sequence[Any]) -> str:
    # repr() is the shortest text that reads back as the same double;
    # PostgreSQL reads "nan", "inf" and "-inf" too.
    return _spelled_array(values, repr)


def _bool_array(values: Sequence[Any]) -> str:
    return _spelled_array(values, _bool_text)


# Value types spelled here, by exact type: a subclass (an IntEnum, a str
# subclass with its own __str__) is left to psycopg.
_SPELLERS: dict[type, Callable[[Sequence[Any]], str | None]] = {
    str: _text_array,
    int: _int_array,
    float: _float_array,
    bool: _bool_array,
}


def _array_param(values: Sequence[Any]) -> Any:
    """One column's values as one array parameter, or None if they cannot be.

    Strings, integers, floats and booleans are spelled here as an array
    literal, several times faster than psycopg's per-element adaptation;
    other values (decimals, dates, UUIDs, JSON, bytes) are left to psycopg as
    a list. A column mixing value types is refused: psycopg cannot dump it as
    one array, and a VALUES list converts each value on its own.
    """
    types = set(map(type, values))
    types.discard(type(None))
    if len(types) > 1:
        return None
    kind = types.pop() if types else int  # all NULL: "{NULL,...}"
    speller = _SPELLERS.get(kind)
    if speller is not None:
        return speller(values)
    if issubclass(kind, _NOT_ELEMENTS):
        return None
    return list(values)


def _column_arrays(
    casts: Sequence[str | None], rows: Sequence[Sequence[Any]]
) -> list[Any] | None:
    """One array parameter per column (pk first), or None to use VALUES."""
    if not all(cast in _ARRAY_ELEMENT_TYPES for cast in casts):
        return None
    arrays = []
    for column in zip(*rows, strict=True):
        array = _array_param(column)
        if array is None:
            return None
        arrays.append(array)
    return arrays


def _copy(sql: str, rows: Any, many: bool, context: dict[str, Any]) -> None:
    """Execute ``COPY ... FROM STDIN``, streaming ``rows`` to the server."""
    with context["cursor"].cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _copy_chunks(sql: str, chunks: Any, many: bool, context: dict[str, Any]) -> None:
    """Execute ``COPY ... FROM STDIN``, streaming ``chunks`` of rows."""
    with context["cursor"].cursor.copy(sql) as copy:
        write = copy.write_row
        for chunk in chunks:
            for row in chunk:
                write(row)


_UNKNOWN = object()


class PostgreSqlWriter(BulkSqlWriter):
    """COPY for inserts; updates join the table to a typed VALUES list."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        """Note whether the driver can COPY; no query is run."""
        super().__init__(connection)
        self._sequences: dict[tuple[str, str], str | None] = {}
        # COPY streams rows through psycopg 3's ``cursor.copy()``. Django
        # also runs on psycopg2, whose copy API takes preformatted text:
        # there, rows go in as multi-row INSERTs, adapted by the driver.
        driver = getattr(connection, "Database", None)
        self.uses_copy = getattr(driver, "__name__", "") != "psycopg2"

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
        streams the rows with their keys in one round trip (with psycopg2,
        multi-row INSERTs instead).
        """
        quote = self.quote
        keys: list[Any] | None = None
        if pk_column is not None:
            sequence = self.key_sequence(cursor, table, pk_column)
            if sequence is None:
                # No sequence behind the key (a custom default): let the
                # database fill it in and read the keys back.
                return super().insert_rows(cursor, table, columns, rows, pk_column)
            keys = self.reserve_keys(cursor, sequence, len(rows))
            columns = [pk_column, *columns]
            # Transposed twice at C speed rather than a tuple built per row.
            rows = list(zip(keys, *zip(*rows, strict=True), strict=True))
        if not self.uses_copy:
            super().insert_rows(cursor, table, columns, rows, None)
            return keys
        names = ", ".join(quote(column) for column in columns)
        sql = f"COPY {quote(table)} ({names}) FROM STDIN"
        # Run through Django's execute-wrapper chain, so that wrappers
        # (query logging, a dry run's write count) see the COPY like any
        # INSERT, and driver errors become django.db's (IntegrityError, ...).
        with cursor.db.wrap_database_errors:
            cursor._execute_with_wrappers(sql, rows, many=True, executor=_copy)
        return keys

    def reserve_keys(self, cursor: Any, sequence: str, count: int) -> list[int]:
        """Draw ``count`` keys from ``sequence``, in the order rows would draw them.

        The server sends back the first, smallest and largest key and, only
        when the keys are not one unbroken run (another session drew keys in
        between, or the sequence steps by more than one), all of them: the
        usual case costs one row instead of ``count``, about a third of the
        time of the query.
        """
        cursor.execute(
            "SELECT min(v) FILTER (WHERE i = 1), min(v), max(v), "
            "CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL "
            "ELSE array_agg(v ORDER BY i) END "
            "FROM (SELECT i, nextval(CAST(%s AS regclass)) AS v "
            "FROM generate_series(1, %s) AS i) AS keys",
            [sequence, count],
        )
        first, smallest, largest, every = cursor.fetchone()
        if every is not None:
            return list(every)
        if first == smallest:
            return list(range(smallest, largest + 1))
        return list(range(largest, smallest - 1, -1))

    def copy_chunks(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[str],
        chunks: Iterable[Sequence[Sequence[Any]]],
    ) -> None:
        """COPY the rows of ``chunks`` into ``table`` in one statement, streaming.

        ``chunks`` may be a generator: each chunk of rows is sent as it is
        produced, so a caller can build rows a chunk at a time (bounding
        memory) while the server sees a single COPY. Each COPY statement has
        a fixed cost (a round trip, parsing, setting up the copy state); for
        a frame cut into chunks of 1,000 rows it was about a third of the
        time.
        """
        names = ", ".join(self.quote(column) for column in columns)
        sql = f"COPY {self.quote(table)} ({names}) FROM STDIN"
        # Through the execute-wrapper chain, as in insert_rows().
        with cursor.db.wrap_database_errors:
            cursor._execute_with_wrappers(sql, chunks, many=True, executor=_copy_chunks)

    def key_sequence(self, cursor: Any, table: str, pk_column: str) -> str | None:
        """The sequence behind ``table.pk_column``, looked up once per writer.

        Looked up apart from ``nextval``: inside the key query,
        ``pg_get_serial_sequence`` would run once per key, which made
        reserving 1,000 keys take about 10 ms instead of 2 ms.
        """
        cached = self._sequences.get((table, pk_column), _UNKNOWN)
        if cached is not _UNKNOWN:
            return cached  # type: ignore[return-value]
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, %s)", [self.quote(table), pk_column]
        )
        sequence: str | None = cursor.fetchone()[0]
        self._sequences[(table, pk_column)] = sequence
        return sequence

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
        """``UPDATE t SET c = v.c FROM unnest(<one array per column>) AS v ...``.

        One array parameter per column instead of one parameter per value:
        psycopg's client-side binding parses the query for every ``%s`` and
        quotes every value in Python, which for 1,000 rows of three values
        took longer than running the UPDATE. Columns whose values the arrays
        cannot carry exactly fall back to a ``VALUES`` list.
        """
        arrays = _column_arrays(casts, rows)
        if arrays is None:
            return self._values_update_statement(table, pk_column, columns, casts, rows)
        quote = self.quote
        unnest = ", ".join(f"CAST(%s AS {cast}[])" for cast in casts)
        names = ", ".join(quote(name) for name in [pk_column, *columns])
        v = quote(free_alias(table, pk_column, *columns))
        assignments = ", ".join(f"{quote(c)} = {v}.{quote(c)}" for c in columns)
        target_pk = f"{quote(table)}.{quote(pk_column)}"
        # The key list lets the table side use the primary key index; see
        # _values_update_statement() and planner_settings().
        sql = (
            f"UPDATE {quote(table)} SET {assignments} "
            f"FROM unnest({unnest}) AS {v} ({names}) "
            f"WHERE {target_pk} = {v}.{quote(pk_column)} "
            f"AND {target_pk} = ANY(CAST(%s AS {casts[0]}[]))"
        )
        return sql, [*arrays, arrays[0]]

    def _values_update_statement(
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
        v = quote(free_alias(table, pk_column, *columns))
        assignments = ", ".join(f"{quote(c)} = {v}.{quote(c)}" for c in columns)
        target_pk = f"{quote(table)}.{quote(pk_column)}"
        key_array = f"CAST(%s AS {casts[0]}[])" if casts[0] else "%s"
        # The key list lets the table side use the primary key index, and
        # planner_settings() keep the join a hash join: with stale statistics
        # (a table analyzed while empty, then loaded) PostgreSQL otherwise
        # picks a nested loop over a sequential scan, one scan per row.
        sql = (
            f"UPDATE {quote(table)} SET {assignments} "
            f"FROM (VALUES {values}) AS {v} ({names}) "
            f"WHERE {target_pk} = {v}.{quote(pk_column)} "
            f"AND {target_pk} = ANY({key_array})"
        )
        params = [value for row in rows for value in row]
        return sql, [*params, [row[0] for row in rows]]

    def delete_rows(
        self, cursor: Any, table: str, pk_column: str, keys: Sequence[Any]
    ) -> int:
        """``DELETE ... WHERE pk = ANY(ARRAY(SELECT unnest('{1,2}'::bigint[])))``.

        For integer keys: one array literal, which the server parses faster
        than an ``IN`` list of as many constants, and no parameters at all
        (see the base class). ``bigint`` compares with any integer column
        through its index and holds every key that passed
        :func:`plain_integers`.

        ``ARRAY(SELECT unnest(...))`` hands the keys over as the result of a
        subquery, whose length the planner does not know, so it plans for a
        few keys and reads them through the primary key index. Given the
        literal array itself, it counts 1,000 keys and, when the table's
        statistics are missing or stale (a table analyzed while empty, then
        loaded), prefers a sequential scan of the whole table per chunk:
        about 110,000 instead of 300,000 rows/s on a 100,000-row table.
        """
        if not plain_integers(keys):
            return super().delete_rows(cursor, table, pk_column, keys)
        quote = self.quote
        head = (
            f"DELETE FROM {quote(table)} "
            f"WHERE {quote(pk_column)} = ANY(ARRAY(SELECT unnest('{{"
        )
        deleted = 0
        step = self.max_inline_keys
        for start in range(0, len(keys), step):
            digits = ",".join(map(str, keys[start : start + step]))
            cursor.execute(f"{head}{digits}}}'::bigint[])))")
            deleted += cursor.rowcount
        return deleted

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
