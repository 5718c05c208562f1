"""A ledger of committed batches, so that an interrupted import can resume.

An import that commits every batch in its own transaction (``--commit-every``)
writes one ledger row per batch *in that same transaction*: the batch's rows
and its ledger row are committed together or not at all. After a crash, a
``kill -9`` or a server restart, the ledger says exactly which batches are in
the database, and a resumed run skips them, so every row ends up in the
database exactly once.

The ledger is one table, ``winidjango_import_ledger``, created on first use
with ``CREATE TABLE IF NOT EXISTS``: nothing to add to ``INSTALLED_APPS``, no
migration to run. Each row holds the import's name, the batch number, a
fingerprint of the batch's content and its row count; a resumed run whose
batch no longer has the recorded fingerprint (the source changed) is refused
rather than skipped.

Examples:
    >>> ledger = ImportLedger("daily-authors")
    >>> with transaction.atomic():
    ...     bulk_create_from_frame(Author, batch)
    ...     ledger.record(0, fingerprint(batch), batch.height)
    >>> ledger.committed()
    {0: ('5b3c...', 2)}
"""

import hashlib
from collections.abc import Mapping

import polars as pl
from django.db import DEFAULT_DB_ALIAS, connections

__all__ = ["LEDGER_TABLE", "ImportLedger", "LedgerMismatchError", "fingerprint"]

LEDGER_TABLE = "winidjango_import_ledger"


class LedgerMismatchError(Exception):
    """A batch to skip on resume no longer holds what was committed."""


def fingerprint(batch: pl.DataFrame) -> str:
    """A short hex digest of a batch's content (columns, types and values).

    Examples:
        >>> one = pl.DataFrame({"a": [1]})
        >>> fingerprint(one) == fingerprint(pl.DataFrame({"a": [1]}))
        True
    """
    digest = hashlib.sha256()
    digest.update(repr(batch.schema).encode())
    if batch.height:
        digest.update(batch.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()[:32]


class ImportLedger:
    """The committed batches of one named import on one database."""

    def __init__(self, name: str, *, using: str | None = None) -> None:
        """Name the import; ``using`` is the database (default: ``default``)."""
        if not name or len(name) > 200:
            message = f"an import name must have 1 to 200 characters, got {name!r}"
            raise ValueError(message)
        self.name = name
        self.alias = using if using is not None else DEFAULT_DB_ALIAS
        self._committed: dict[int, tuple[str, int]] | None = None
        # Created here, before the caller opens a batch's transaction:
        # MariaDB commits any open transaction on CREATE TABLE.
        self._ensure_table()

    def _ensure_table(self) -> None:
        connection = connections[self.alias]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {quote(LEDGER_TABLE)} ("
                f"{quote('import_name')} varchar(200) NOT NULL, "
                f"{quote('batch')} integer NOT NULL, "
                f"{quote('fingerprint')} varchar(64) NOT NULL, "
                f"{quote('row_count')} integer NOT NULL, "
                f"PRIMARY KEY ({quote('import_name')}, {quote('batch')}))"
            )

    def committed(self) -> Mapping[int, tuple[str, int]]:
        """``{batch number: (fingerprint, rows)}`` of the committed batches."""
        connection = connections[self.alias]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('batch')}, {quote('fingerprint')}, "
                f"{quote('row_count')} FROM {quote(LEDGER_TABLE)} "
                f"WHERE {quote('import_name')} = %s",
                [self.name],
            )
            return {batch: (digest, rows) for batch, digest, rows in cursor.fetchall()}

    def record(self, batch: int, digest: str, rows: int) -> None:
        """Record batch ``batch`` as committed; call it in the batch's transaction."""
        connection = connections[self.alias]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(LEDGER_TABLE)} ({quote('import_name')}, "
                f"{quote('batch')}, {quote('fingerprint')}, {quote('row_count')}) "
                "VALUES (%s, %s, %s, %s)",
                [self.name, batch, digest, rows],
            )

    def skip(self, batch: int, digest: str) -> bool:
        """Whether batch ``batch`` was committed by an earlier run.

        Raises:
            LedgerMismatchError: it was, but with other content: the source
                changed since, and skipping it would lose rows.
        """
        if self._committed is None:
            self._committed = dict(self.committed())
        found = self._committed.get(batch)
        if found is None:
            return False
        if found[0] != digest:
            message = (
                f"import {self.name!r}: batch {batch} was committed with other "
                "content; the source changed since the interrupted run. Start "
                "over without --resume (after clearing the ledger) instead."
            )
            raise LedgerMismatchError(message)
        return True

    def clear(self) -> int:
        """Forget this import's batches (after a complete run); return how many."""
        self._committed = None
        connection = connections[self.alias]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {quote(LEDGER_TABLE)} WHERE {quote('import_name')} = %s",
                [self.name],
            )
            return int(cursor.rowcount)
