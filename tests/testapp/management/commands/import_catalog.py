"""An import command that syncs: keys per model, as frames or as objects.

Rows are ``publisher, publisher_name, isbn, title, pages``. Publishers are
matched on their ``code`` and editions on their ``isbn``; an edition points
to its publisher by code. The cleaning drops a row without a title or with
no pages, keeping its key: such a row is in the source, only broken. Tests
set ``source`` (and ``as_objects``) per instance.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from tests.testapp.models import Edition, Publisher
from winidjango.src.commands.import_data import ImportDataBaseCommand

COLUMNS = ("publisher", "publisher_name", "isbn", "title", "pages")


def catalog_frame(rows: Sequence[tuple[Any, ...]]) -> pl.DataFrame:
    """A raw frame of ``(publisher, publisher_name, isbn, title, pages)`` rows."""
    return pl.DataFrame(
        list(rows),
        schema={
            "publisher": pl.Utf8,
            "publisher_name": pl.Utf8,
            "isbn": pl.Utf8,
            "title": pl.Utf8,
            "pages": pl.Int64,
        },
        orient="row",
    )


class CatalogCleaningDF(CleaningDF):
    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {name: name for name in COLUMNS}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {
            "publisher": pl.Utf8,
            "publisher_name": pl.Utf8,
            "isbn": pl.Utf8,
            "title": pl.Utf8,
            "pages": pl.Int64,
        }

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return (("isbn",), ("title",), ("pages",))

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {name: pl.lit(None) for name in COLUMNS}

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return (("isbn", False),)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return (("isbn",),)

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return ("publisher", "isbn", "title", "pages")

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return dict.fromkeys(COLUMNS, cls.skip_col_converter)

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class CatalogImport(ImportDataBaseCommand):
    """Everything but the keys: subclasses name them with either hook."""

    help = "Sync publishers and editions from a frame."

    source: pl.DataFrame = catalog_frame([])
    as_objects = False

    def handle_import(self) -> pl.DataFrame:
        return self.source

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return CatalogCleaningDF

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> Mapping[type[Model], list[Model] | pl.DataFrame]:
        publishers = df.select(
            pl.col("publisher").alias("code"), pl.col("publisher_name").alias("name")
        ).unique(subset="code", keep="first", maintain_order=True)
        editions = df.select(
            "isbn", pl.col("publisher").alias("publisher_id"), "title", "pages"
        )
        if not self.as_objects:
            return {Publisher: publishers, Edition: editions}
        return {
            Publisher: [Publisher(**row) for row in publishers.iter_rows(named=True)],
            Edition: [Edition(**row) for row in editions.iter_rows(named=True)],
        }


class Command(CatalogImport):
    def get_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        return {Publisher: ["code"], Edition: ["isbn"]}
