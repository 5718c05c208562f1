"""An import command written exactly like the README's ``ImportUsersCommand``.

Only the three hooks; the data comes from the CSV file named by the
``WINIDJANGO_TEST_USERS_CSV`` environment variable. "Users" are authors and
each one gets a "profile", a book of memoirs, created after its author.
"""

import os
from collections.abc import Callable, Iterable
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from tests.testapp.models import Author, Book
from winidjango.src.commands.import_data import ImportDataBaseCommand


class MyCleaningDF(CleaningDF):
    """Define your data cleaning rules."""

    NAME_COL = "name"
    BIRTH_YEAR_COL = "birth_year"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {cls.NAME_COL: "user_name", cls.BIRTH_YEAR_COL: "user_born"}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {cls.NAME_COL: pl.Utf8, cls.BIRTH_YEAR_COL: pl.Int64}

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.NAME_COL,),)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {cls.NAME_COL: pl.lit(None), cls.BIRTH_YEAR_COL: pl.lit(None)}

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return ((cls.NAME_COL, False),)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.NAME_COL,),)

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.NAME_COL,)

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return {
            cls.NAME_COL: cls.skip_col_converter,
            cls.BIRTH_YEAR_COL: cls.skip_col_converter,
        }

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class ImportUsersCommand(ImportDataBaseCommand):
    def handle_import(self) -> pl.DataFrame:
        """Fetch data from source."""
        return pl.read_csv(os.environ.get("WINIDJANGO_TEST_USERS_CSV", "users.csv"))

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        """Return your cleaning class."""
        return MyCleaningDF

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> dict[type[Model], Iterable[Model]]:
        """Convert cleaned data to model instances."""
        users = [
            Author(name=row["name"], birth_year=row["birth_year"])
            for row in df.iter_rows(named=True)
        ]
        profiles = [
            Book(title=f"Memoirs of {user.name}", author=user) for user in users
        ]

        # Automatically created in correct order (Author before Book)
        return {Book: profiles, Author: users}


Command = ImportUsersCommand
