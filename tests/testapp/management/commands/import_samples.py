"""An import command that reads CSV text with dates, datetimes, times and booleans.

Every CSV column is read as text (``infer_schema=False``), as an import of a
file whose columns are all text would; the cleaning class declares the real
types, which the base class parses before cleaning. Tests set ``csv_text``.
"""

import io
from collections.abc import Callable
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from tests.testapp.models import Sample
from winidjango.src.commands.import_data import ImportDataBaseCommand

CSV_TEXT = """name,flag,day,moment,clock
a,true,2020-01-02,2020-01-02T03:04:05.123456,03:04:05.123456
b, No ,1999-12-31,1999-12-31 23:59,23:59
c,1,0001-01-01,2000-02-29 00:00:00,00:00:00
d,,,,
"""


class SamplesCleaningDF(CleaningDF):
    NAME = "name"
    FLAG = "flag"
    DAY = "day"
    MOMENT = "moment"
    CLOCK = "clock"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {name: name for name in cls.get_col_dtype_map()}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {
            cls.NAME: pl.Utf8,
            cls.FLAG: pl.Boolean,
            cls.DAY: pl.Date,
            cls.MOMENT: pl.Datetime,
            cls.CLOCK: pl.Time,
        }

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        # (No subsets would drop every row with a null.)
        return ((cls.NAME,),)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {name: pl.lit(None) for name in cls.get_col_dtype_map()}

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return ((cls.NAME, False),)

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.NAME,),)

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.NAME,)

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return dict.fromkeys(cls.get_col_dtype_map(), cls.skip_col_converter)

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class Command(ImportDataBaseCommand):
    help = "Import samples from CSV text whose columns are all read as text."

    csv_text: str = CSV_TEXT
    as_objects = False

    def handle_import(self) -> pl.DataFrame:
        return pl.read_csv(io.StringIO(self.csv_text), infer_schema=False)

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return SamplesCleaningDF

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> dict[type[Model], list[Model] | pl.DataFrame]:
        # The file's times are UTC; Django wants them aware (USE_TZ).
        samples = df.with_columns(pl.col("moment").dt.replace_time_zone("UTC"))
        if self.as_objects:
            return {Sample: [Sample(**row) for row in samples.iter_rows(named=True)]}
        return {Sample: samples}
