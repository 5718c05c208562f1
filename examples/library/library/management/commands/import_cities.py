from argparse import ArgumentParser
from collections.abc import Callable
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from library.models import City
from winidjango.src.commands.import_data import ImportDataBaseCommand


class CityCleaningDF(CleaningDF):
    NAME = "name"
    COUNTRY = "country"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {cls.NAME: "City", cls.COUNTRY: "Country"}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {cls.NAME: pl.Utf8, cls.COUNTRY: pl.Utf8}

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {cls.NAME: pl.lit(None), cls.COUNTRY: pl.lit(None)}

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.NAME,), (cls.COUNTRY,))  # a city needs a name and a country

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.NAME, cls.COUNTRY)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.NAME, cls.COUNTRY),)  # a city listed twice is kept once

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return ((cls.COUNTRY, False), (cls.NAME, False))

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return {cls.NAME: cls.skip_col_converter, cls.COUNTRY: cls.skip_col_converter}

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class Command(ImportDataBaseCommand):
    help = "Import cities (City, Country code) from a CSV file, whole or in batches."

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("csv_path")
        parser.add_argument(
            "--lazy",
            action="store_true",
            help="Scan the file instead of reading it: imported in batches.",
        )

    def handle_import(self) -> pl.DataFrame | pl.LazyFrame:
        if self.get_option("lazy"):
            # Read batch by batch (--batch-size rows): memory stays bounded.
            return pl.scan_csv(self.get_option("csv_path"))
        return pl.read_csv(self.get_option("csv_path"))

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return CityCleaningDF

    def get_bulks_by_model(self, df: pl.DataFrame) -> dict[type[Model], pl.DataFrame]:
        # City.country points to Country.code: the frame holds the codes.
        return {
            City: df.select(
                CityCleaningDF.NAME,
                pl.col(CityCleaningDF.COUNTRY).alias("country_id"),
            )
        }
