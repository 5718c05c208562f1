from argparse import ArgumentParser
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from library.models import Author
from winidjango.src.commands.import_data import ImportDataBaseCommand


class AuthorCleaningDF(CleaningDF):
    NAME = "name"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {cls.NAME: "Name"}  # cleaned name -> column in the file

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {cls.NAME: pl.Utf8}

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {cls.NAME: pl.lit(None)}  # leave missing names missing

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.NAME,),)  # drop rows without a name

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.NAME,)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.NAME,),)  # one row per name

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return ((cls.NAME, False),)

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return {cls.NAME: cls.skip_col_converter}

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class Command(ImportDataBaseCommand):
    help = "Import authors from a CSV file with a 'Name' column."

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("csv_path")

    def handle_import(self) -> pl.DataFrame:
        return pl.read_csv(self.get_option("csv_path"))

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return AuthorCleaningDF

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> dict[type[Model], Iterable[Model]]:
        names = df.get_column(AuthorCleaningDF.NAME)
        return {Author: [Author(name=name) for name in names]}

    def get_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        # The key of a row: authors are matched by name (unique in the
        # database), so a second run updates or leaves them instead of
        # creating them again, and --delete knows which ones left the file.
        return {Author: ["name"]}
