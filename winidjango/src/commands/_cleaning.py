"""Cleaning that says which source rows it dropped, and by which rule.

A winiutils ``CleaningDF`` drops rows silently: a null where its
``get_drop_null_subsets()`` forbids one, the later copies of a key its
``get_unique_subsets()`` names, and it refuses the whole frame for a null in
a ``get_no_null_cols()`` column. :func:`clean_tracked` runs the subclass's
own rules unchanged on the raw frame with one extra column, the source row
number (1-based), and compares the rows before and after each dropping step,
so that every dropped row is reported with its number and its rule. With
``drop_required_nulls=True`` (an import with ``--rejects``), rows with a null
in a required column are dropped and reported too instead of refusing the
whole frame.
"""

from dataclasses import dataclass
from typing import Any

import polars as pl
from winiutils.core.data.dataframe.cleaning import CleaningDF

__all__ = ["ROW_COLUMN", "Cleaned", "Dropped", "clean_tracked"]

#: The hidden column that carries each row's number through the cleaning.
ROW_COLUMN = "__winidjango_row__"


@dataclass(frozen=True)
class Dropped:
    """A source row the cleaning dropped."""

    row: int
    column: str | None
    #: The rule, the same for every row it drops (counted in the report).
    rule: str
    #: What is particular to this row (the row it duplicates), if anything.
    detail: str = ""


@dataclass
class Cleaned:
    """What :func:`clean_tracked` returns."""

    #: The cleaned frame, as the cleaning class returns it (no row column).
    df: pl.DataFrame
    #: The source row number of each row of :attr:`df`, in order.
    rows: pl.Series
    #: The rows the cleaning dropped, with their rules.
    dropped: list[Dropped]
    #: Every row after renaming and type conversion, before any was dropped
    #: (with the row column): what the source holds, for ``--delete``.
    converted: pl.DataFrame


def clean_tracked(
    cleaning_cls: type[CleaningDF],
    raw: pl.DataFrame,
    *,
    first_row: int = 1,
    rows: list[int] | None = None,
    drop_required_nulls: bool = False,
) -> Cleaned:
    """Clean ``raw`` with ``cleaning_cls``, keeping track of every source row.

    ``first_row`` is the number of ``raw``'s first row (a batch of a larger
    source starts further on); ``rows`` gives every row's number instead,
    for a frame some of whose rows were already set aside.

    Examples:
        >>> raw = pl.DataFrame({"user_name": ["a", None]})
        >>> cleaned = clean_tracked(UserCleaningDF, raw)
        >>> cleaned.rows.to_list(), [(d.row, d.rule) for d in cleaned.dropped]
        ([1], [(2, 'null in name (get_drop_null_subsets)')])
    """
    if ROW_COLUMN in raw.columns:
        message = f"the raw data has a column named {ROW_COLUMN!r}; rename it"
        raise ValueError(message)
    numbers = (
        pl.Series(ROW_COLUMN, rows, dtype=pl.Int64)
        if rows is not None
        else pl.int_range(first_row, first_row + raw.height, dtype=pl.Int64, eager=True)
    )
    numbered = raw.with_columns(numbers.alias(ROW_COLUMN))
    tracked_cls = _tracked(cleaning_cls, drop_required_nulls=drop_required_nulls)
    cleaning: Any = tracked_cls(numbered)
    df: pl.DataFrame = cleaning.df
    converted = cleaning.winidjango_converted
    if converted is None:  # a subclass that skips the dropping steps
        converted = df
    return Cleaned(
        df=df.drop(ROW_COLUMN),
        rows=df.get_column(ROW_COLUMN),
        dropped=sorted(cleaning.winidjango_dropped, key=lambda d: d.row),
        converted=converted,
    )


def _tracked(base: type[CleaningDF], *, drop_required_nulls: bool) -> type[CleaningDF]:
    """A subclass of ``base`` that carries the row column and records drops."""

    class Tracked(base):  # type: ignore[misc,valid-type]
        df: pl.DataFrame
        winidjango_dropped: list[Dropped]
        winidjango_converted: pl.DataFrame | None

        @classmethod
        def get_rename_map(cls) -> dict[str, str]:
            return {**base.get_rename_map(), ROW_COLUMN: ROW_COLUMN}

        @classmethod
        def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
            return {**base.get_col_dtype_map(), ROW_COLUMN: pl.Int64}

        @classmethod
        def get_fill_null_map(cls) -> dict[str, Any]:
            return {**base.get_fill_null_map(), ROW_COLUMN: pl.lit(None)}

        @classmethod
        def get_col_converter_map(cls) -> dict[str, Any]:
            return {
                **base.get_col_converter_map(),
                ROW_COLUMN: base.skip_col_converter,
            }

        def drop_null_subsets(self) -> None:
            self.winidjango_dropped = []
            self.winidjango_converted = self.df
            subsets = base.get_drop_null_subsets()
            columns = list(subsets) or [tuple(base.get_col_names())]
            for subset in columns:
                self._drop_nulls(list(subset), "get_drop_null_subsets")

        def handle_duplicates(self) -> None:
            for subset in base.get_unique_subsets():
                self._dedupe(list(subset))

        def _dedupe(self, subset: list[str]) -> None:
            adding = base.get_add_on_duplicate_cols()
            frame: pl.DataFrame = self.df
            for column in adding:
                frame = frame.with_columns(pl.col(column).sum().over(subset))
            kept = frame.unique(subset=subset, keep="first", maintain_order=True)
            self.df = kept
            gone = frame.join(kept.select(ROW_COLUMN), on=ROW_COLUMN, how="anti")
            if not gone.height:
                return
            pairs = gone.select([*subset, ROW_COLUMN]).join(
                kept.select([*subset, pl.col(ROW_COLUMN).alias("kept")]),
                on=subset,
                how="left",
                nulls_equal=True,
            )
            how = "merged into" if adding else "a duplicate of"
            rule = f"duplicate on ({', '.join(subset)}) (get_unique_subsets)"
            for row, kept_row in pairs.select(ROW_COLUMN, "kept").iter_rows():
                detail = f"{how} row {kept_row}"
                self.winidjango_dropped.append(Dropped(row, None, rule, detail))

        def check_no_null_cols(self) -> None:
            required = list(base.get_no_null_cols())
            if drop_required_nulls:
                self._drop_nulls(required, "get_no_null_cols")
                return
            current: pl.DataFrame = self.df
            for column in required:
                nulls = current.filter(pl.col(column).is_null())
                if nulls.height:
                    row = int(nulls.get_column(ROW_COLUMN).min())  # type: ignore[arg-type]
                    message = (
                        f"row {row}: null in column {column!r}, which "
                        f"get_no_null_cols() requires ({nulls.height} rows in all)"
                    )
                    raise ValueError(message)

        def _drop_nulls(self, subset: list[str], rule: str) -> None:
            if not subset:
                return
            first_null = pl.coalesce(
                [pl.when(pl.col(c).is_null()).then(pl.lit(c)) for c in subset]
            )
            current: pl.DataFrame = self.df
            marked = current.with_columns(first_null.alias("__null_in__"))
            gone = marked.filter(pl.col("__null_in__").is_not_null())
            self.df = marked.filter(pl.col("__null_in__").is_null()).drop("__null_in__")
            for row, column in gone.select(ROW_COLUMN, "__null_in__").iter_rows():
                text = f"null in {column} ({rule})"
                self.winidjango_dropped.append(Dropped(row, column, text))

    Tracked.__name__ = base.__name__
    Tracked.__qualname__ = base.__qualname__
    return Tracked
