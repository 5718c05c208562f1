"""An import command that hands frames, not objects, to the base class.

Rows are ``country, country_name, city``. Countries (natural key ``code``)
and cities go to the database as polars frames through
``bulk_create_from_frame``; with ``cities_as_objects`` the cities are model
objects instead, to mix both kinds in one import. Tests set ``source``.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from tests.testapp.models import City, Country
from winidjango.src.commands.import_data import ImportDataBaseCommand

SAMPLE = pl.DataFrame(
    {
        "country": ["FR", "FR", "DE"],
        "country_name": ["France", "France", "Germany"],
        "city": ["Paris", "Lyon", "Berlin"],
    }
)


class PlacesCleaningDF(CleaningDF):
    COUNTRY = "country"
    COUNTRY_NAME = "country_name"
    CITY = "city"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {name: name for name in (cls.COUNTRY, cls.COUNTRY_NAME, cls.CITY)}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {cls.COUNTRY: pl.Utf8, cls.COUNTRY_NAME: pl.Utf8, cls.CITY: pl.Utf8}

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.CITY,),)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {name: pl.lit(None) for name in cls.get_rename_map().values()}

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return ((cls.COUNTRY, False), (cls.CITY, False))

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.COUNTRY, cls.CITY),)

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.COUNTRY, cls.CITY)

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return {
            cls.COUNTRY: cls.skip_col_converter,
            cls.COUNTRY_NAME: cls.skip_col_converter,
            cls.CITY: cls.skip_col_converter,
        }

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class Command(ImportDataBaseCommand):
    help = "Import countries and cities from a frame, as frames."

    source: pl.DataFrame = SAMPLE
    cities_as_objects = False

    def handle_import(self) -> pl.DataFrame:
        return self.source

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return PlacesCleaningDF

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> dict[type[Model], list[Model] | pl.DataFrame]:
        countries = df.select(
            pl.col("country").alias("code"), pl.col("country_name").alias("name")
        ).unique(subset="code", keep="first", maintain_order=True)
        cities = df.select(
            pl.col("city").alias("name"), pl.col("country").alias("country_id")
        )
        if self.cities_as_objects:
            return {
                City: [City(**row) for row in cities.iter_rows(named=True)],
                Country: countries,
            }
        return {City: cities, Country: countries}

    def get_delete_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        return {Country: ["code"], City: ["name", "country"]}
