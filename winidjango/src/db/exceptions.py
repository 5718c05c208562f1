"""Exceptions raised by winidjango's bulk operations."""


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
