"""The interface every backend writer implements."""

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

type Statement = tuple[str, list[Any]]


class BulkSqlWriter:
    """Builds the SQL of bulk write paths for one database connection.

    Writers only build statements; they never execute them, so they can run on
    helper threads while the owning thread executes earlier statements.
    """

    #: Whether several writer threads, each on its own connection, can write
    #: at the same time. False where the database serializes all writers.
    supports_concurrent_writers = True

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        """Keep the connection for quoting and type names; no query is run."""
        self.connection = connection
        self.quote = connection.ops.quote_name

    def max_params_per_statement(self) -> int | None:
        """The bind-parameter limit of one statement, or None if unlimited."""
        limit: int | None = self.connection.features.max_query_params
        return limit

    def value_cast(self, db_type: str | None) -> str | None:
        """The SQL type a bound value must be cast to in a VALUES list, if any."""
        return None

    def update_statement(
        self,
        table: str,
        pk_column: str,
        columns: Sequence[str],
        casts: Sequence[str | None],
        rows: Sequence[Sequence[Any]],
    ) -> Statement:
        """One statement setting ``columns`` of ``table`` for each row.

        Each row is ``[pk, value_1, ..., value_n]``, already converted for the
        database; ``casts`` has one entry per row item (pk first).
        """
        raise NotImplementedError
