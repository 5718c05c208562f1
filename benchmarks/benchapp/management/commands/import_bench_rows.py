"""Import ``ImportRow`` rows from a CSV file, read whole or in batches.

The memory benchmark's command (``benchmarks/_import_memory.py``): with
``--lazy``, ``handle_import()`` returns ``pl.scan_csv(path)`` and the import
runs batch by batch; with ``--chunks``, it returns a generator of DataFrames,
each parsed by polars from a block of the file's lines (:func:`csv_chunks`);
without either, ``pl.read_csv(path)`` reads the whole file. The build hands
the cleaned rows over as a frame (no model objects).
"""

import io
from argparse import ArgumentParser
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from benchmarks.benchapp.models import ImportRow
from winidjango.src.commands.import_data import ImportDataBaseCommand

COLUMNS = {
    "code": pl.Utf8,
    "name": pl.Utf8,
    "number": pl.Int64,
    "amount": pl.Float64,
    "flag": pl.Boolean,
    "note": pl.Utf8,
}


def csv_chunks(
    path: str | Path, schema: dict[str, Any], *, block_bytes: int = 8 << 20
) -> Iterator[pl.DataFrame]:
    """The rows of a CSV file as DataFrames of about ``block_bytes`` of text each.

    Only one block of the file is in memory at a time. A block ends at a line
    break outside quotes (an even number of ``"`` before it), so a quoted
    value with a line break in it stays whole.
    """
    with Path(path).open("rb") as handle:
        header = handle.readline()
        rest = b""
        while True:
            block = handle.read(block_bytes)
            data = rest + block
            if not block:
                if data.strip():
                    yield pl.read_csv(io.BytesIO(header + data), schema=schema)
                return
            cut = data.rfind(b"\n") + 1
            while cut and data.count(b'"', 0, cut) % 2:
                cut = data.rfind(b"\n", 0, cut - 1) + 1
            rest = data[cut:]
            if cut:
                yield pl.read_csv(io.BytesIO(header + data[:cut]), schema=schema)


class ImportRowCleaningDF(CleaningDF):
    """The six columns as they are; rows without a code are dropped."""

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {name: name for name in COLUMNS}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return dict(COLUMNS)

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return (("code",),)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return dict.fromkeys(COLUMNS, pl.lit(None))

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        # The file is in code order already: a sort that changes nothing.
        return (("code", False),)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ()

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return dict.fromkeys(COLUMNS, cls.skip_col_converter)

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {"amount": 2}


class Command(ImportDataBaseCommand):
    help = "Import ImportRow rows from a CSV file (the memory benchmark)."

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("csv_path")
        parser.add_argument("--lazy", action="store_true")
        parser.add_argument("--chunks", action="store_true")

    def handle_import(self) -> Any:
        path = self.get_option("csv_path")
        if self.get_option("chunks"):
            return csv_chunks(path, COLUMNS)
        if self.get_option("lazy"):
            return pl.scan_csv(path, schema=COLUMNS)
        return pl.read_csv(path, schema=COLUMNS)

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return ImportRowCleaningDF

    def get_bulks_by_model(self, df: pl.DataFrame) -> Mapping[type[Model], Any]:
        return {ImportRow: df}
