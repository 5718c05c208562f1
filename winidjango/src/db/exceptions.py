"""Exceptions raised by winidjango's bulk operations.

Row numbers
-----------
Every row number winidjango reports is **1-based**: row 1 is the first object
of a bulk, the first row of a frame, or the first data line of a CSV file
(its line number minus the header). The same number appears in error
messages, in :attr:`BulkInputError.row` and in reject files.
"""

from typing import Any

__all__ = [
    "BulkInputError",
    "BulkInputTypeError",
    "BulkPartialFailureError",
    "StalePlanError",
]


class BulkInputError(ValueError):
    """Input that a bulk call refuses before anything is written.

    A subclass of ``ValueError``, so ``except ValueError`` keeps working; a
    program that wants to act on the error (set the row aside, show it to a
    person) reads its attributes instead of parsing the message.

    Attributes:
        model: the model class the data was meant for.
        field: the field name (or frame column) at fault; None when the
            reason spans fields (a duplicate key of several fields).
        row: the 1-based position of the first bad row in the input, or None
            when the reason is not about one row (an unknown column).
        value: the offending value (None if there is none to show).
        reason: the message without the model/field/row prefix.
        rows: every 1-based row the same rule refuses, where the check knows
            them all at once (a frame's null or too-long values); otherwise
            ``[row]``, or empty when ``row`` is None.

    Examples:
        >>> try:
        ...     check_frame(Author, pl.DataFrame({"name": ["Ann", None]}))
        ... except BulkInputError as error:
        ...     print(error.field, error.row, error.value)
        name 2 None
    """

    def __init__(
        self,
        message: str,
        *,
        model: type[Any] | None = None,
        field: str | None = None,
        row: int | None = None,
        value: Any = None,
        reason: str | None = None,
        rows: list[int] | None = None,
    ) -> None:
        """Keep the message and the data it is about."""
        super().__init__(message)
        self.model = model
        self.field = field
        self.row = row
        self.value = value
        self.reason = reason if reason is not None else message
        self.rows = list(rows) if rows else ([] if row is None else [row])


class BulkInputTypeError(BulkInputError, TypeError):
    """A :class:`BulkInputError` about the type of the input.

    Also a ``TypeError``: an object of another model, or a frame column of a
    type the field cannot take, was always refused with ``TypeError``, and
    ``except TypeError`` keeps catching it.
    """


class StalePlanError(Exception):
    """A sync plan no longer matches the database, so it was not applied.

    Raised by ``SyncPlan.apply()`` when a row the plan read (its key or a
    compared field) changed after planning, or a row appeared with a key the
    plan would create. Nothing was written; plan again.

    Attributes:
        model: the model whose rows changed.
        keys: a few of the keys that changed (key values as tuples).
    """

    def __init__(
        self,
        message: str,
        *,
        model: type[Any] | None = None,
        keys: list[Any] | None = None,
    ) -> None:
        """Keep the message, the model and sample keys."""
        super().__init__(message)
        self.model = model
        self.keys = list(keys or [])


class BulkPartialFailureError(Exception):
    """Some chunks of a non-atomic bulk call committed and some did not.

    Raised only with ``atomic=False``, where every chunk commits on its own. It
    tells exactly which chunks are in the database, so the caller can retry or
    clean up the rest. Chunk ``i`` holds the input objects
    ``[i * step, (i + 1) * step)``.

    Examples:
        >>> try:
        ...     bulk_create_in_steps(Author, authors, atomic=False, threads=4)
        ... except BulkPartialFailureError as error:  # doctest: +SKIP
        ...     print(error.committed_chunks, list(error.failed_chunks))
        [0, 1, 3] [2]
    """

    def __init__(
        self,
        committed_chunks: list[int],
        failed_chunks: dict[int, BaseException],
    ) -> None:
        """Record which chunk indexes committed and which failed, and why."""
        self.committed_chunks = sorted(committed_chunks)
        self.failed_chunks = dict(sorted(failed_chunks.items()))
        first_index, first_error = next(iter(self.failed_chunks.items()))
        super().__init__(
            f"{len(self.failed_chunks)} chunk(s) failed and were rolled back "
            f"(first: chunk {first_index}: {first_error!r}); "
            f"{len(self.committed_chunks)} chunk(s) committed: "
            f"{self.committed_chunks}"
        )
