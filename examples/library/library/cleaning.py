from collections.abc import Callable
from typing import Any

import polars as pl
from winiutils.core.data.dataframe.cleaning import CleaningDF


class BookCleaningDF(CleaningDF):
    AUTHOR = "author"
    TITLE = "title"
    PAGES = "pages"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        # cleaned name -> column name in the raw data
        return {cls.AUTHOR: "Writer", cls.TITLE: "Book title", cls.PAGES: "Page count"}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {cls.AUTHOR: pl.Utf8, cls.TITLE: pl.Utf8, cls.PAGES: pl.Int64}

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        # Every column needs an entry; pl.lit(None) leaves the nulls alone.
        return {cls.AUTHOR: pl.lit(None), cls.TITLE: pl.lit(None), cls.PAGES: 0}

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.AUTHOR,), (cls.TITLE,))

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.AUTHOR, cls.TITLE)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.AUTHOR, cls.TITLE),)

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        # At least one column: CleaningDF cannot sort by none.
        return ((cls.AUTHOR, False), (cls.TITLE, False))

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return {
            cls.AUTHOR: cls.skip_col_converter,
            cls.TITLE: cls.skip_col_converter,
            cls.PAGES: cls.skip_col_converter,
        }

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}
