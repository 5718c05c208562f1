"""Benchmark winidjango's bulk functions against plain Django and the raw driver.

Usage (from the repository root)::

    uv run python -m benchmarks --db sqlite --rows 100000 --repeats 3
    uv run python -m benchmarks --db postgres --rows 100000
    uv run python -m benchmarks --db mariadb --rows 100000

Contenders run interleaved, repeat by repeat, on a freshly emptied table, and
the table shows median rows per second with the ratio to plain Django. The
results are also written as JSON to ``benchmarks/results/<db>.json``.
"""

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django

type Case = tuple[str, str, Callable[[], None], Callable[[], float]]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "mariadb"], default="sqlite"
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument(
        "--only",
        default="create,update,delete",
        help="comma-separated operations to run (default: all)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="where to write results"
    )
    return parser.parse_args(argv)


def _ensure_database(db: str) -> None:
    """Create the benchmark database on a server backend if it is missing."""
    from django.conf import settings

    config = settings.DATABASES["default"]
    if db == "postgres":
        import psycopg

        with psycopg.connect(
            host=config["HOST"],
            port=config["PORT"],
            user=config["USER"],
            dbname="postgres",
            autocommit=True,
        ) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{config["NAME"]}"')
    elif db == "mariadb":
        import MySQLdb

        connection = MySQLdb.connect(
            host=config["HOST"], port=int(config["PORT"]), user=config["USER"]
        )
        connection.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS `{config['NAME']}` CHARACTER SET utf8mb4"
        )
        connection.close()


def _fresh_table() -> None:
    from django.db import connection

    from benchmarks.benchapp.models import Row

    with connection.schema_editor() as editor:
        if Row._meta.db_table in connection.introspection.table_names():
            editor.delete_model(Row)
        editor.create_model(Row)


def _empty_table() -> None:
    from django.db import connection

    from benchmarks.benchapp.models import Row

    table = connection.ops.quote_name(Row._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DELETE FROM {table}")
        else:
            cursor.execute(f"TRUNCATE TABLE {table}")


def _values(count: int, salt: int = 0) -> list[tuple[Any, ...]]:
    return [
        (f"row {i} {salt}", i + salt, i * 0.5 + salt, i % 2 == 0, f"note {i}")
        for i in range(count)
    ]


_COLUMNS = ("name", "number", "amount", "flag", "note")


def _raw_insert(rows: list[tuple[Any, ...]], step: int) -> None:
    """Insert with the database driver directly, the fastest way each allows."""
    from django.db import connection

    from benchmarks.benchapp.models import Row

    table = Row._meta.db_table
    columns = ", ".join(_COLUMNS)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "postgresql":
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        elif connection.vendor == "sqlite":
            marks = ", ".join(["?"] * len(_COLUMNS))
            raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        else:
            marks = ", ".join(["%s"] * len(_COLUMNS))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            for start in range(0, len(rows), step):
                raw.executemany(sql, rows[start : start + step])


def _raw_update(ids: list[int], rows: list[tuple[Any, ...]], step: int) -> None:
    from django.db import connection

    from benchmarks.benchapp.models import Row

    table = Row._meta.db_table
    mark = "?" if connection.vendor == "sqlite" else "%s"
    sql = f"UPDATE {table} SET name = {mark}, number = {mark} WHERE id = {mark}"
    params = [(row[0], row[1], pk) for pk, row in zip(ids, rows, strict=True)]
    with connection.cursor() as cursor:
        for start in range(0, len(params), step):
            cursor.cursor.executemany(sql, params[start : start + step])


def _raw_delete(ids: list[int], step: int) -> None:
    from django.db import connection

    from benchmarks.benchapp.models import Row

    table = Row._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(ids), step):
            part = ids[start : start + step]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", part)


def _build_cases(rows: int, step: int, db: str) -> list[Case]:
    """Each case: (operation, contender, setup, timed run returning seconds)."""
    from django.db import transaction

    from benchmarks.benchapp.models import Row
    from winidjango.src.db.bulk import (
        bulk_create_in_steps,
        bulk_delete_in_steps,
        bulk_update_in_steps,
    )

    state: dict[str, Any] = {}

    def objects() -> list[Row]:
        return [Row(**dict(zip(_COLUMNS, v, strict=True))) for v in _values(rows)]

    def timed(work: Callable[[], object]) -> Callable[[], float]:
        def run() -> float:
            started = time.perf_counter()
            work()
            return time.perf_counter() - started

        return run

    def setup_create() -> None:
        _empty_table()
        state["objs"] = objects()

    def setup_existing() -> None:
        _empty_table()
        with transaction.atomic():
            _raw_insert(_values(rows), step)
        loaded = list(Row.objects.order_by("id"))
        for obj, values in zip(loaded, _values(rows, salt=7), strict=True):
            obj.name, obj.number = values[0], values[1]
        state["objs"] = loaded
        state["ids"] = [obj.pk for obj in loaded]

    def django_create() -> None:
        with transaction.atomic():
            Row.objects.bulk_create(state["objs"], batch_size=step)

    def django_update() -> None:
        with transaction.atomic():
            Row.objects.bulk_update(state["objs"], ["name", "number"], batch_size=step)

    def django_delete() -> None:
        ids = state["ids"]
        with transaction.atomic():
            for start in range(0, len(ids), step):
                Row.objects.filter(pk__in=ids[start : start + step]).delete()

    def atomic_raw(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            with transaction.atomic():
                work()

        return run

    cases: list[Case] = [
        ("create", "django", setup_create, timed(django_create)),
        (
            "create",
            "raw driver",
            _empty_table,
            timed(atomic_raw(lambda: _raw_insert(_values(rows), step))),
        ),
    ]
    for threads in (1, 2):
        cases.append(
            (
                "create",
                f"winidjango threads={threads}",
                setup_create,
                timed(
                    lambda t=threads: bulk_create_in_steps(
                        Row, state["objs"], step, threads=t
                    )
                ),
            )
        )
    if db != "sqlite":
        cases.append(
            (
                "create",
                "winidjango atomic=False threads=2",
                setup_create,
                timed(
                    lambda: bulk_create_in_steps(
                        Row, state["objs"], step, threads=2, atomic=False
                    )
                ),
            )
        )
    cases += [
        ("update", "django", setup_existing, timed(django_update)),
        (
            "update",
            "raw driver",
            setup_existing,
            timed(
                atomic_raw(lambda: _raw_update(state["ids"], _values(rows, 7), step))
            ),
        ),
    ]
    for threads in (1, 2):
        cases.append(
            (
                "update",
                f"winidjango threads={threads}",
                setup_existing,
                timed(
                    lambda t=threads: bulk_update_in_steps(
                        Row, state["objs"], ["name", "number"], step, threads=t
                    )
                ),
            )
        )
    cases += [
        ("delete", "django", setup_existing, timed(django_delete)),
        (
            "delete",
            "raw driver",
            setup_existing,
            timed(atomic_raw(lambda: _raw_delete(state["ids"], step))),
        ),
        (
            "delete",
            "winidjango",
            setup_existing,
            timed(lambda: bulk_delete_in_steps(Row, state["objs"], step)),
        ),
    ]
    return cases


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    args = _parse_args(argv)
    os.environ["WINIDJANGO_BENCH_DB"] = args.db
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    django.setup()
    _ensure_database(args.db)
    _fresh_table()
    wanted = set(args.only.split(","))
    cases = [
        case
        for case in _build_cases(args.rows, args.step, args.db)
        if case[0] in wanted
    ]
    seconds: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for operation, contender, setup, run in cases:
            setup()
            seconds.setdefault((operation, contender), []).append(run())
    results = []
    baseline: dict[str, float] = {}
    print(f"\n{args.db}: {args.rows} rows, step {args.step}, {args.repeats} repeats")
    print(f"{'operation':<8} {'contender':<36} {'rows/s':>12} {'vs django':>10}")
    for (operation, contender), times in seconds.items():
        rate = args.rows / statistics.median(times)
        baseline.setdefault(operation, rate)
        ratio = rate / baseline[operation]
        print(f"{operation:<8} {contender:<36} {rate:>12,.0f} {ratio:>9.2f}x")
        results.append(
            {
                "operation": operation,
                "contender": contender,
                "rows_per_second": rate,
                "ratio_to_django": ratio,
                "seconds": times,
            }
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mib:.0f} MiB")
    output = args.json or Path(__file__).parent / "results" / f"{args.db}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "db": args.db,
                "rows": args.rows,
                "step": args.step,
                "repeats": args.repeats,
                "peak_rss_mib": peak_mib,
                "results": results,
            },
            indent=2,
        )
    )
    from django.db import connection

    if connection.vendor == "sqlite":
        Path(connection.settings_dict["NAME"]).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
