"""The import command on a large CSV file: peak memory and rows/s.

A CSV file of ``--rows`` rows of six columns (``ImportRow``: code, name,
number, amount, flag, note) is generated with polars in a temporary folder,
then imported by the bench app's ``import_bench_rows`` command (frames, no
keys) in a process of its own, so that the process's peak resident memory
(``VmHWM``) is the import's::

    uv run python -m benchmarks._import_memory --db sqlite --rows 1000000
    uv run python -m benchmarks._import_memory --db sqlite --rows 10000000 --lazy

Without ``--lazy`` the command reads the whole file (``pl.read_csv``) and
imports it as one frame; with it, it returns ``pl.scan_csv(path)``, and with
``--chunks`` a generator of DataFrames parsed from blocks of the file; both
are imported in batches of ``--batch-size`` rows. The measuring process prints
one JSON line (rows, seconds, rows/s, baseline and peak RSS); the file is
deleted afterwards. ``--json PATH`` appends the line to a JSON list there.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _db


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._import_memory")
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "mariadb"], default="sqlite"
    )
    parser.add_argument("--rows", type=int, required=True)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--lazy", action="store_true", help="pl.scan_csv(path)")
    source.add_argument(
        "--chunks", action="store_true", help="a generator of DataFrames"
    )
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--json", help="append the result to this JSON list")
    # Internal: import this file in this process and print the JSON line.
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def generate_csv(path: Path, rows: int) -> None:
    """Write ``rows`` rows of the six columns to ``path``, streaming."""
    import polars as pl

    i = pl.col("i")
    (
        pl.LazyFrame()
        .select(pl.int_range(0, rows, dtype=pl.Int64).alias("i"))
        .select(
            pl.format("k{}", i.cast(pl.Utf8).str.zfill(9)).alias("code"),
            pl.format("name {}", i).alias("name"),
            i.alias("number"),
            (i * 0.25).alias("amount"),
            (i % 3 == 0).alias("flag"),
            pl.format("note {}", i).alias("note"),
        )
        .sink_csv(path)
    )


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    """Import ``args.csv`` with the command in this process; return the numbers."""
    _db.setup_django(args.db)
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.benchapp.models import ImportRow

    def fresh() -> None:
        with connection.schema_editor() as editor:
            if ImportRow._meta.db_table in connection.introspection.table_names():
                editor.delete_model(ImportRow)
            editor.create_model(ImportRow)

    fresh()
    options: dict[str, Any] = {
        "lazy": args.lazy,
        "chunks": args.chunks,
        "verbosity": 0,
    }
    if args.batch_size:
        options["batch_size"] = args.batch_size
    baseline = _db.current_rss_mib()
    started = time.perf_counter()
    call_command("import_bench_rows", args.csv, **options)
    seconds = time.perf_counter() - started
    peak = _db.peak_rss_mib()
    stored = ImportRow._default_manager.count()
    if stored != args.rows:
        raise SystemExit(f"{stored} rows stored, {args.rows} expected")
    with connection.schema_editor() as editor:
        editor.delete_model(ImportRow)
    _db.remove_sqlite_file()
    return {
        "db": args.db,
        "source": _source_name(args),
        "rows": stored,
        "batch_size": args.batch_size,
        "seconds": seconds,
        "rows_per_second": stored / seconds,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak,
        "growth_mib": peak - baseline,
    }


def _source_name(args: argparse.Namespace) -> str:
    if args.lazy:
        return "pl.scan_csv (LazyFrame)"
    if args.chunks:
        return "generator of DataFrames"
    return "pl.read_csv (DataFrame)"


def main(argv: list[str] | None = None) -> None:
    """Generate the file, import it in a fresh process, print the JSON line."""
    args = _parse_args(argv)
    if args.csv:
        print(json.dumps(_measure(args)))
        return
    with tempfile.TemporaryDirectory(prefix="winidjango-import-") as folder:
        path = Path(folder) / "rows.csv"
        generate_csv(path, args.rows)
        command = [
            sys.executable,
            "-m",
            "benchmarks._import_memory",
            "--db",
            args.db,
            "--rows",
            str(args.rows),
            "--csv",
            str(path),
        ]
        if args.lazy:
            command.append("--lazy")
        if args.chunks:
            command.append("--chunks")
        if args.batch_size:
            command += ["--batch-size", str(args.batch_size)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(done.returncode)
    line = done.stdout.strip().splitlines()[-1]
    result = json.loads(line)
    print(line)
    if args.json:
        target = Path(args.json)
        results = json.loads(target.read_text()) if target.exists() else []
        results.append(result)
        target.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
