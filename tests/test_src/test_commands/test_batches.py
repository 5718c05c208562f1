"""Raw data cut into fixed-size batches, from every kind of source."""

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from winidjango.src.commands._batches import iter_batches


def _ids(batches: list[pl.DataFrame]) -> list[int]:
    return [value for batch in batches for value in batch["id"].to_list()]


@pytest.mark.parametrize("size", [1, 3, 7, 10, 11])
def test_every_source_gives_the_same_batches(tmp_path: Path, size: int) -> None:
    frame = pl.DataFrame({"id": list(range(10)), "name": [f"n{i}" for i in range(10)]})
    path = tmp_path / "data.csv"
    frame.write_csv(path)
    sources: list[pl.DataFrame | pl.LazyFrame | Iterator[pl.DataFrame]] = [
        frame,
        frame.lazy(),
        pl.scan_csv(path),
        iter([frame.slice(0, 4), frame.slice(4, 1), frame.slice(5)]),
    ]
    for source in sources:
        batches = list(iter_batches(source, size))
        assert _ids(batches) == list(range(10))
        heights = [batch.height for batch in batches]
        assert all(height == size for height in heights[:-1])
        assert 0 < heights[-1] <= size


def test_empty_and_bad_sources() -> None:
    assert list(iter_batches(pl.DataFrame({"id": []}), 3)) == []
    assert list(iter_batches(iter([]), 3)) == []
    with pytest.raises(TypeError, match="must yield polars DataFrames"):
        list(iter_batches(iter([{"id": 1}]), 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 1"):
        list(iter_batches(pl.DataFrame({"id": [1]}), 0))
