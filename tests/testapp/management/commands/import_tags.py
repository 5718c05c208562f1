"""An import command for Tag, whose name is unique: for constraint errors."""

from collections.abc import Callable, Iterable
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from tests.testapp.models import Tag
from winidjango.src.commands.import_data import ImportDataBaseCommand


class TagCleaningDF(CleaningDF):
    NAME = "name"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {cls.NAME: "tag"}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {cls.NAME: pl.Utf8}

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.NAME,),)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {cls.NAME: pl.lit(None)}

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return ((cls.NAME, False),)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ()  # duplicates are kept on purpose, to reach the constraint

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.NAME,)

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return {cls.NAME: cls.skip_col_converter}

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class Command(ImportDataBaseCommand):
    help = "Import tags from a frame with a 'tag' column."

    source: pl.DataFrame = pl.DataFrame({"tag": ["red", "green"]})

    def handle_import(self) -> pl.DataFrame:
        return self.source

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return TagCleaningDF

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> dict[type[Model], Iterable[Model]]:
        return {Tag: [Tag(name=name) for name in df.get_column(TagCleaningDF.NAME)]}
