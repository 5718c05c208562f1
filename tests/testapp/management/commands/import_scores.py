"""An import of scores from a CSV file, for bad rows, batches and resumes.

``Score`` has a unique label, a check constraint (points >= 0), a foreign key
to ``Author``, a field with choices and a small integer: every kind of row a
feed can break. ``--lazy`` returns ``pl.scan_csv`` instead of reading the
file, so the import runs in batches; ``--objects`` builds model objects
instead of a frame; ``--sleep-after N`` sleeps after N rows were written (for
kill tests).
"""

import time
from argparse import ArgumentParser
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from tests.testapp.models import Score
from winidjango.src.commands.import_data import ImportDataBaseCommand


class ScoreCleaningDF(CleaningDF):
    LABEL = "label"
    POINTS = "points"
    AUTHOR = "author_id"
    GRADE = "grade"
    RANK = "rank"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {
            cls.LABEL: "Label",
            cls.POINTS: "Points",
            cls.AUTHOR: "Author",
            cls.GRADE: "Grade",
            cls.RANK: "Rank",
        }

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {
            cls.LABEL: pl.Utf8,
            cls.POINTS: pl.Int64,
            cls.AUTHOR: pl.Int64,
            cls.GRADE: pl.Utf8,
            cls.RANK: pl.Int64,
        }

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.LABEL,),)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {
            cls.LABEL: pl.lit(None),
            cls.POINTS: pl.lit(None),
            cls.AUTHOR: pl.lit(None),
            cls.GRADE: "A",
            cls.RANK: 0,
        }

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        # Sorted, so that the rows' numbers must follow them to the rejects.
        return ((cls.LABEL, True),)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ()

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.POINTS,)

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return dict.fromkeys(cls.get_col_names(), cls.skip_col_converter)

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class Command(ImportDataBaseCommand):
    help = "Import scores from a CSV file."

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("csv_path")
        parser.add_argument("--lazy", action="store_true")
        parser.add_argument("--objects", action="store_true")
        parser.add_argument("--sleep-after", type=int, default=0)

    def handle_import(self) -> Any:
        path = self.get_option("csv_path")
        schema = dict.fromkeys(["Label", "Points", "Author", "Grade", "Rank"], pl.Utf8)
        if self.get_option("lazy"):
            return pl.scan_csv(path, schema=schema)
        return pl.read_csv(path, schema=schema)

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return ScoreCleaningDF

    def get_bulks_by_model(self, df: pl.DataFrame) -> Mapping[type[Model], Any]:
        self._written = getattr(self, "_written", 0) + df.height
        after = self.get_option("sleep_after")
        if after and self._written > after:
            # The kill test's signal to kill now: the batches before this one
            # are committed.
            print("SLEEPING", flush=True)
            time.sleep(60)
        if self.get_option("objects"):
            return {Score: [Score(**row) for row in df.iter_rows(named=True)]}
        return {Score: df}


class KeyedCommand(Command):
    """The same import, syncing by label."""

    def get_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        return {Score: ["label"]}
