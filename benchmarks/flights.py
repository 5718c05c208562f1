"""The flights table: ``bulk_create_from_frame`` against the raw driver.

Usage (from the repository root; the ``demo`` dependency group holds the
data)::

    uv run python -m benchmarks.flights --db postgres --repeats 3

The demo's import (``examples/flights``) fills the five tables once; the
flights table's rows are then read back as a polars frame, and the table is
emptied and written again from that frame, interleaved, by each contender:
``bulk_create_from_frame(Flight, frame)`` at its default step, and the raw
driver's fastest path for the same frame (PostgreSQL: one COPY with
``write_row`` per row; MariaDB: ``LOAD DATA LOCAL INFILE`` of the frame
written as CSV by polars; SQLite: one ``executemany``), each in a
transaction whose commit (and so PostgreSQL's deferred foreign key checks) is
timed with it. The raw contender converts dates and times to the text the
database reads itself; nothing is checked.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

_NAME = os.environ.get("WINIDJANGO_BENCH_DB_NAME", "winidjango_bench") + "_flights"
_URLS = {
    "postgres": f"postgres://postgres@127.0.0.1:5432/{_NAME}",
    "mariadb": f"mysql://root@127.0.0.1:3306/{_NAME}",
}


def _setup(db: str) -> None:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "examples.flights.flights_project.settings"
    if db == "sqlite":
        path = Path(tempfile.gettempdir()) / f"{_NAME}.sqlite3"
        os.environ["FLIGHTS_DATABASE_URL"] = f"sqlite:///{path}"
    else:
        os.environ["FLIGHTS_DATABASE_URL"] = _URLS[db]
    from examples.flights.flights_project import settings

    if db == "mariadb":
        # LOAD DATA LOCAL INFILE, for both contenders.
        settings.DATABASES["default"]["OPTIONS"]["local_infile"] = True
    django.setup()
    from benchmarks._db import _ensure_database

    _ensure_database(db)


def _text_temporals(frame: Any) -> Any:
    """Dates, times and datetimes as the text MariaDB and SQLite read."""
    import polars as pl

    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            column = (
                column.dt.convert_time_zone("UTC")
                .dt.replace_time_zone(None)
                .dt.strftime("%Y-%m-%d %H:%M:%S")
            )
        elif dtype == pl.Date:
            column = column.dt.strftime("%Y-%m-%d")
        elif dtype == pl.Time:
            column = column.dt.strftime("%H:%M:%S")
        columns.append(column)
    return frame.select(columns)


def _raw(frame: Any, table: str) -> None:
    from django.db import connection

    names = ", ".join(frame.columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "postgresql":
            with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in frame.iter_rows():
                    copy.write_row(row)
            return
        text = _text_temporals(frame)
        if connection.vendor == "sqlite":
            marks = ", ".join(["?"] * len(frame.columns))
            raw.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})", text.iter_rows()
            )
            return
        handle, name = tempfile.mkstemp(suffix=".csv")
        os.close(handle)
        try:
            text.write_csv(name, include_header=False, null_value="\\N")
            raw.execute(
                f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE {table} "
                "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
                f"LINES TERMINATED BY '\\n' ({names})"
            )
        finally:
            os.unlink(name)


def main(argv: list[str] | None = None) -> None:
    """Run the flights comparison and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flights")
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "mariadb"], default="sqlite"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    _setup(args.db)

    import polars as pl
    from django.core.management import call_command
    from django.db import connection, transaction

    from examples.flights.flights.models import Flight
    from winidjango.src.db.bulk import bulk_create_from_frame

    call_command("import_flights", verbosity=0)
    attnames = [
        field.attname for field in Flight._meta.concrete_fields if not field.primary_key
    ]
    frame = pl.DataFrame(
        list(Flight.objects.order_by("pk").values_list(*attnames)),
        schema=attnames,
        orient="row",
        infer_schema_length=None,
    )
    table = Flight._meta.db_table

    def empty() -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(f"DELETE FROM {table}")
            else:
                cursor.execute(f"TRUNCATE TABLE {table}")

    contenders = {
        "raw driver": lambda: _raw(frame, table),
        "bulk_create_from_frame": lambda: bulk_create_from_frame(Flight, frame),
    }
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, work in contenders.items():
            empty()
            started = time.perf_counter()
            with transaction.atomic():
                work()
            seconds[name].append(time.perf_counter() - started)
            assert Flight.objects.count() == frame.height
    raw_rate = frame.height / statistics.median(seconds["raw driver"])
    print(f"\n{args.db}: flights table, {frame.height:,} rows, {args.repeats} repeats")
    print(f"{'contender':<24} {'rows/s':>10} {'vs raw':>8}")
    results = []
    for name, times in seconds.items():
        rate = frame.height / statistics.median(times)
        print(f"{name:<24} {rate:>10,.0f} {rate / raw_rate:>7.0%}")
        results.append(
            {
                "contender": name,
                "rows": frame.height,
                "rows_per_second": rate,
                "ratio_to_raw": rate / raw_rate,
                "seconds": times,
            }
        )
    output = args.json or Path(__file__).parent / "results" / f"flights-{args.db}.json"
    output.write_text(json.dumps({"db": args.db, "results": results}, indent=2))


if __name__ == "__main__":
    main()
