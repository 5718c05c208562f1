"""Cleaning that reports the rows it drops, with their source row numbers."""

from typing import Any

import polars as pl
import pytest
from winiutils.core.data.dataframe.cleaning import CleaningDF

from winidjango.src.commands._cleaning import Dropped, clean_tracked


class PeopleCleaningDF(CleaningDF):
    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {"name": "Name", "city": "City", "visits": "Visits"}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {"name": pl.Utf8, "city": pl.Utf8, "visits": pl.Int64}

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return (("name",),)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {"name": pl.lit(None), "city": pl.lit(None), "visits": 0}

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return (("name", False),)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return (("name",),)

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return ("name", "city")

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Any]:
        return {
            "name": cls.skip_col_converter,
            "city": cls.skip_col_converter,
            "visits": cls.skip_col_converter,
        }

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


_RAW = pl.DataFrame(
    {
        "Name": ["Cy", None, "Ann", "Cy", "  ", "Bob", "Dee"],
        "City": ["Oslo", "Rome", "Lima", "Kyiv", "Bern", None, "Nice"],
        "Visits": [1, 2, 3, 4, 5, 6, None],
    }
)


def test_dropped_rows_are_named_with_their_rule() -> None:
    cleaned = clean_tracked(PeopleCleaningDF, _RAW, drop_required_nulls=True)
    # Same result as the cleaning class itself, less the required-null row.
    assert cleaned.df.get_column("name").to_list() == ["", "Ann", "Cy", "Dee"]
    assert cleaned.rows.to_list() == [5, 3, 1, 7]
    assert cleaned.df.columns == ["name", "city", "visits"]
    assert cleaned.dropped == [
        Dropped(2, "name", "null in name (get_drop_null_subsets)"),
        Dropped(
            4, None, "duplicate on (name) (get_unique_subsets)", "a duplicate of row 1"
        ),
        Dropped(6, "city", "null in city (get_no_null_cols)"),
    ]
    # What the source held, every row, after renaming and conversion.
    assert cleaned.converted.height == _RAW.height


def test_same_rows_as_the_cleaning_class_and_numbering_offset() -> None:
    raw = _RAW.filter(pl.col("City").is_not_null())
    cleaned = clean_tracked(PeopleCleaningDF, raw, first_row=101)
    plain = PeopleCleaningDF(raw).df
    assert cleaned.df.equals(plain)
    assert cleaned.rows.to_list() == [105, 103, 101, 106]


def test_required_null_names_the_row_without_rejects() -> None:
    with pytest.raises(ValueError, match=r"row 6: null in column 'city'"):
        clean_tracked(PeopleCleaningDF, _RAW)
