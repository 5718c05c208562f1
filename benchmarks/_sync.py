"""The ``sync`` operation: re-import a table in which a few rows changed.

A table of ``--rows`` rows (``SyncRow``: a unique text key and five columns)
is synced with data in which 1% of the rows changed, 0.5% are new and 0.5%
are gone. Each contender runs alone in a fresh process, on a freshly seeded
table, so that its peak resident memory is its own::

    python -m benchmarks._sync --db sqlite --rows 100000 --contender "sync objects"

and prints one JSON line (seconds, peak and baseline memory). The process
checks that the table holds exactly the data afterwards. ``python -m
benchmarks --only sync`` runs every contender ``--repeats`` times,
interleaved, and prints the table.

Contenders:

- ``sync objects`` / ``sync frame``: winidjango's :func:`sync` with
  ``delete=True``, the data as model instances or as a polars DataFrame;
- ``django upsert``: ``bulk_create(update_conflicts=True, ...)`` then a delete
  of the missing keys, in one transaction;
- ``pgbulk upsert`` / ``pgbulk upsert ignore_unchanged`` (PostgreSQL, when
  django-pgbulk is installed), then the same delete;
- ``update_or_create``: a loop over ``min(rows, 10,000)`` data rows, its time
  scaled to all rows;
- ``raw merge``: the limit. Key and compared columns read with the driver
  into polars, diffed there, and only the changes written through the
  fastest path of each driver.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import _db

COLUMNS = ("code", "name", "number", "amount", "flag", "note")
FIELDS = ["name", "number", "amount", "flag", "note"]
LOOP_ROWS = 10_000

CONTENDERS = (
    "django upsert",
    "pgbulk upsert",
    "pgbulk upsert ignore_unchanged",
    "update_or_create",
    "raw merge",
    "sync objects",
    "sync frame",
)


def _row(i: int, salt: str = "") -> tuple[Any, ...]:
    return (f"k{i:09d}", f"name {i}{salt}", i, i * 0.25, i % 3 == 0, f"note {i}")


def existing_rows(rows: int) -> list[tuple[Any, ...]]:
    return [_row(i) for i in range(rows)]


def data_rows(rows: int) -> list[tuple[Any, ...]]:
    """The table's rows with 1% changed, 0.5% gone and 0.5% new."""
    data = []
    for i in range(rows):
        if i % 200 == 0:
            continue  # gone
        data.append(_row(i, " changed") if i % 100 == 1 else _row(i))
    data += [_row(rows + i) for i in range(rows // 200)]
    return data


def _table() -> str:
    from benchmarks.benchapp.models import SyncRow

    return SyncRow._meta.db_table


def fresh_table() -> None:
    """Drop and create ``SyncRow``'s table (other benchmark tables untouched)."""
    from django.db import connection

    from benchmarks.benchapp.models import SyncRow

    with connection.schema_editor() as editor:
        if _table() in connection.introspection.table_names():
            editor.delete_model(SyncRow)
        editor.create_model(SyncRow)


def seed(rows: list[tuple[Any, ...]], step: int) -> None:
    from django.db import connection, transaction

    table = _table()
    names = ", ".join(COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "postgresql":
            with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            mark = "?" if connection.vendor == "sqlite" else "%s"
            sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join([mark] * 6)})"
            for start in range(0, len(rows), step):
                raw.executemany(sql, rows[start : start + step])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")


def _objects(rows: list[tuple[Any, ...]]) -> list[Any]:
    from benchmarks.benchapp.models import SyncRow

    return [SyncRow(**dict(zip(COLUMNS, row, strict=True))) for row in rows]


def _frame(rows: list[tuple[Any, ...]]) -> Any:
    import polars as pl

    return pl.DataFrame(rows, schema=list(COLUMNS), orient="row")


def _delete_missing(keys: set[str], step: int) -> None:
    """What a Django user adds to an upsert: delete the keys not in the data."""
    from benchmarks.benchapp.models import SyncRow

    gone = [
        pk for pk, code in SyncRow.objects.values_list("pk", "code") if code not in keys
    ]
    for start in range(0, len(gone), step):
        SyncRow.objects.filter(pk__in=gone[start : start + step]).delete()


def _work(contender: str, rows: int, step: int) -> tuple[Callable[[], None], float]:
    """The contender's timed work (data prepared untimed) and its time scale."""
    from django.db import connection, transaction

    from benchmarks.benchapp.models import SyncRow
    from winidjango.src.db.bulk import sync

    data = data_rows(rows)
    scale = 1.0
    if contender == "sync objects":
        objs = _objects(data)
        return lambda: _check_sync(
            sync(SyncRow, objs, key="code", delete=True, step=step)
        ), scale
    if contender == "sync frame":
        frame = _frame(data)
        return lambda: _check_sync(
            sync(SyncRow, frame, key="code", delete=True, step=step)
        ), scale
    if contender == "django upsert":
        objs = _objects(data)
        kwargs: dict[str, Any] = {"update_conflicts": True, "update_fields": FIELDS}
        if connection.features.supports_update_conflicts_with_target:
            kwargs["unique_fields"] = ["code"]

        def django_upsert() -> None:
            with transaction.atomic():
                SyncRow.objects.bulk_create(objs, batch_size=step, **kwargs)
                _delete_missing({obj.code for obj in objs}, step)

        return django_upsert, scale
    if contender.startswith("pgbulk"):
        import pgbulk

        objs = _objects(data)
        ignore = contender.endswith("ignore_unchanged")

        def pgbulk_upsert() -> None:
            with transaction.atomic():
                for start in range(0, len(objs), step * 10):
                    pgbulk.upsert(
                        SyncRow,
                        objs[start : start + step * 10],
                        ["code"],
                        FIELDS,
                        ignore_unchanged=ignore,
                    )
                _delete_missing({obj.code for obj in objs}, step)

        return pgbulk_upsert, scale
    if contender == "update_or_create":
        sample = data[: min(len(data), LOOP_ROWS)]
        scale = len(data) / len(sample)

        def loop() -> None:
            with transaction.atomic():
                for row in sample:
                    values = dict(zip(COLUMNS, row, strict=True))
                    SyncRow.objects.update_or_create(
                        code=values.pop("code"), defaults=values
                    )

        return loop, scale
    if contender == "raw merge":
        frame = _frame(data)
        return lambda: raw_merge(frame, step), scale
    message = f"unknown contender {contender!r}"
    raise ValueError(message)


def _check_sync(result: Any) -> None:
    if not (result.created and result.updated and result.deleted):
        message = f"sync wrote too little: {result}"
        raise SystemExit(message)


def raw_merge(frame: Any, step: int) -> None:
    """Read key and compared columns, diff in polars, write only the changes."""
    import polars as pl
    from django.db import connection, transaction

    table = _table()
    vendor = connection.vendor
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(f"SELECT id, {', '.join(COLUMNS)} FROM {table}")
        existing = pl.DataFrame(
            raw.fetchall(),
            schema={
                "id": pl.Int64,
                "code": pl.String,
                "name": pl.String,
                "number": pl.Int64,
                "amount": pl.Float64,
                "flag": pl.Int64 if vendor != "postgresql" else pl.Boolean,
                "note": pl.String,
            },
            orient="row",
        ).with_columns(pl.col("flag").cast(pl.Boolean))
        joined = frame.join(existing, on="code", how="left", suffix="_old")
        new = joined.filter(pl.col("id").is_null()).select(COLUMNS)
        differs = pl.any_horizontal(
            ~pl.col(name).eq_missing(pl.col(f"{name}_old")) for name in FIELDS
        )
        changed = joined.filter(pl.col("id").is_not_null() & differs).select(
            "id", *COLUMNS
        )
        gone = existing.join(frame.select("code"), on="code", how="anti")[
            "id"
        ].to_list()
        if vendor == "postgresql":
            _pg_writes(raw, table, new, changed, gone)
        elif vendor == "sqlite":
            sets = ", ".join(f"{name} = ?" for name in FIELDS)
            raw.executemany(
                f"UPDATE {table} SET {sets} WHERE id = ?",
                [(*row[2:], row[0]) for row in changed.rows()],
            )
            raw.executemany(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES "
                f"({', '.join(['?'] * len(COLUMNS))})",
                new.rows(),
            )
            for start in range(0, len(gone), step):
                part = gone[start : start + step]
                raw.execute(
                    f"DELETE FROM {table} WHERE id IN ({', '.join(map(str, part))})"
                )
        else:
            names = ", ".join(["id", *COLUMNS])
            updates = ", ".join(f"{name} = VALUES({name})" for name in FIELDS)
            marks = ", ".join(["%s"] * (len(COLUMNS) + 1))
            # An upsert by primary key of rows that exist: mysqlclient sends
            # each executemany as one multi-row statement.
            for start in range(0, changed.height, step):
                raw.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({marks}) "
                    f"ON DUPLICATE KEY UPDATE {updates}",
                    changed.slice(start, step).rows(),
                )
            insert = (
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES "
                f"({', '.join(['%s'] * len(COLUMNS))})"
            )
            for start in range(0, new.height, step):
                raw.executemany(insert, new.slice(start, step).rows())
            for start in range(0, len(gone), step):
                part = gone[start : start + step]
                raw.execute(
                    f"DELETE FROM {table} WHERE id IN ({', '.join(map(str, part))})"
                )


def _pg_writes(raw: Any, table: str, new: Any, changed: Any, gone: list[int]) -> None:
    types = ["bigint", "text", "text", "integer", "double precision", "boolean", "text"]
    columns = changed.columns
    unnest = ", ".join(f"%s::{kind}[]" for kind in types)
    sets = ", ".join(f"{name} = v.{name}" for name in FIELDS)
    raw.execute(
        f"UPDATE {table} AS t SET {sets} FROM unnest({unnest}) "
        f"AS v ({', '.join(columns)}) WHERE t.id = v.id",
        [changed[name].to_list() for name in columns],
    )
    with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in new.iter_rows():
            copy.write_row(row)
    raw.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [gone])


def verify(rows: int) -> None:
    """The table holds exactly the data (every contender must get there)."""
    import polars as pl
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {_table()}")
        stored = pl.DataFrame(
            [tuple(row) for row in cursor.fetchall()],
            schema=list(COLUMNS),
            orient="row",
        ).with_columns(pl.col("flag").cast(pl.Boolean))
    expected = _frame(data_rows(rows))
    if not stored.sort("code").equals(expected.sort("code")):
        message = f"table differs from the data: {stored.height} rows stored"
        raise SystemExit(message)


def available(contender: str, db: str) -> bool:
    if contender.startswith("pgbulk"):
        if db != "postgres":
            return False
        try:
            import pgbulk  # noqa: F401
        except ImportError:
            return False
    return True


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._sync")
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "mariadb"], default="sqlite"
    )
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument("--contender", choices=CONTENDERS, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run one contender in this process and print its JSON line."""
    args = _parse_args(argv)
    _db.setup_django(args.db)
    fresh_table()
    seed(existing_rows(args.rows), args.step)
    work, scale = _work(args.contender, args.rows, args.step)
    baseline = _db.current_rss_mib()
    started = time.perf_counter()
    work()
    seconds = (time.perf_counter() - started) * scale
    peak = _db.peak_rss_mib()
    # The loop covers a sample of the data (creates and updates only), so the
    # table cannot match the whole data afterwards.
    if args.contender != "update_or_create":
        verify(args.rows)
    fresh_table()
    _db.remove_sqlite_file()
    print(
        json.dumps(
            {
                "contender": args.contender,
                "rows": args.rows,
                "seconds": seconds,
                "scaled": args.contender == "update_or_create",
                "baseline_rss_mib": baseline,
                "peak_rss_mib": peak,
                "growth_mib": peak - baseline,
            }
        )
    )


def run_sync(db: str, rows: int, step: int, repeats: int) -> list[dict[str, Any]]:
    """Every available contender, interleaved, each run in its own process."""
    contenders = [c for c in CONTENDERS if available(c, db)]
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
    root = Path(__file__).resolve().parent.parent
    for _ in range(repeats):
        for contender in contenders:
            command = [sys.executable, "-m", "benchmarks._sync", "--db", db]
            command += ["--rows", str(rows), "--step", str(step)]
            command += ["--contender", contender]
            done = subprocess.run(
                command, cwd=root, check=True, capture_output=True, text=True
            )
            runs[contender].append(json.loads(done.stdout.splitlines()[-1]))
    median = {c: statistics.median(r["seconds"] for r in runs[c]) for c in contenders}
    django = median["django upsert"]
    raw = median["raw merge"]
    print(
        f"\nsync: {rows:,} rows, 1% changed, 0.5% new, 0.5% gone; "
        "one process per contender"
    )
    print(
        f"{'contender':<32} {'seconds':>9} {'vs django':>10} {'vs raw':>8} "
        f"{'growth MiB':>11} {'peak MiB':>9}"
    )
    results = []
    for contender in contenders:
        measured = runs[contender]
        seconds = median[contender]
        growth = max(run["growth_mib"] for run in measured)
        peak = max(run["peak_rss_mib"] for run in measured)
        scaled = " (scaled)" if measured[0]["scaled"] else ""
        print(
            f"{contender + scaled:<32} {seconds:>9.2f} {django / seconds:>9.1f}x "
            f"{seconds / raw:>7.2f}x {growth:>11,.0f} {peak:>9,.0f}"
        )
        results.append(
            {
                "operation": "sync",
                "contender": contender,
                "rows": rows,
                "seconds": [run["seconds"] for run in measured],
                "median_seconds": seconds,
                "speedup_vs_django_upsert": django / seconds,
                "ratio_to_raw_merge": seconds / raw,
                "scaled": bool(scaled),
                "growth_mib": growth,
                "peak_rss_mib": peak,
            }
        )
    return results


if __name__ == "__main__":
    main()
