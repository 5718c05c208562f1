"""Raw data in batches of a fixed number of rows, whatever its source.

``handle_import()`` may return a whole ``DataFrame``, a ``LazyFrame`` (e.g.
``pl.scan_csv(...)``, read by polars' streaming engine) or any iterable of
DataFrames. :func:`iter_batches` turns each into DataFrames of exactly
``size`` rows (the last one shorter), so that memory stays bounded by the
batch size and the batch numbers are the same on every run of the same
source, which a resumed run relies on.
"""

from collections.abc import Iterable, Iterator

import polars as pl

__all__ = ["is_batched_source", "iter_batches"]


def is_batched_source(source: object) -> bool:
    """Whether ``source`` is read batch by batch (anything but a DataFrame)."""
    return not isinstance(source, pl.DataFrame)


def iter_batches(
    source: pl.DataFrame | pl.LazyFrame | Iterable[pl.DataFrame], size: int
) -> Iterator[pl.DataFrame]:
    """Yield DataFrames of ``size`` rows from ``source``; the last may be shorter.

    Examples:
        >>> [b.height for b in iter_batches(pl.DataFrame({"a": range(5)}), 2)]
        [2, 2, 1]
        >>> lazy = pl.LazyFrame({"a": range(5)})
        >>> [b.height for b in iter_batches(lazy, 3)]
        [3, 2]
    """
    if size < 1:
        message = f"a batch size must be >= 1, got {size}"
        raise ValueError(message)
    if isinstance(source, pl.DataFrame):
        yield from source.iter_slices(size)
        return
    if isinstance(source, pl.LazyFrame):
        pieces: Iterable[pl.DataFrame] = source.collect_batches(chunk_size=size)
    else:
        pieces = source
    pending: list[pl.DataFrame] = []
    held = 0
    for piece in pieces:
        if not isinstance(piece, pl.DataFrame):
            message = (
                "an iterable source must yield polars DataFrames, got "
                f"{type(piece).__name__}"
            )
            raise TypeError(message)
        pending.append(piece)
        held += piece.height
        while held >= size:
            whole = (
                pl.concat(pending, how="vertical") if len(pending) > 1 else pending[0]
            )
            yield whole.slice(0, size)
            rest = whole.slice(size)
            pending = [rest] if rest.height else []
            held = rest.height
    if held:
        yield pl.concat(pending, how="vertical") if len(pending) > 1 else pending[0]
