"""Benchmark winidjango's bulk functions against plain Django and the raw driver.

Usage (from the repository root)::

    uv run python -m benchmarks --db sqlite --rows 100000 --repeats 3
    uv run python -m benchmarks --db postgres --rows 100000
    uv run python -m benchmarks --db mariadb --rows 100000
    uv run python -m benchmarks --db sqlite --only memory --memory-rows 1000000

Operations: ``create``, ``update`` and ``delete`` of ``--rows`` rows of one
model; ``cascade``, deleting ``--rows`` // 7 parents in chunks, each with 2
children that have 2 grandchildren each (rows/s counts the rows of all three
tables); ``chain``, creating a three-model foreign-key chain (``--rows`` // 3
parents, as many children, one per parent, and as many grandchildren, one per
child; rows/s counts the rows of all three tables); ``frame``, the same rows
as a polars DataFrame written by ``bulk_create_from_frame``, against building
one object per row and bulk-creating the objects (Django's ``bulk_create``,
and winidjango's instance path); and ``memory``, creating
``--memory-rows`` rows from a generator, each contender in a process of its
own, to compare peak memory; and ``sync``, re-importing ``--rows`` rows of
which 1% changed, 0.5% are new and 0.5% gone (``benchmarks/_sync.py``).
``memory`` and ``sync`` are not run by default (they take minutes): ask for
them with ``--only memory,sync`` or ``--only all``.

Contenders run interleaved, repeat by repeat, on freshly emptied tables, and
the table shows median rows per second with the ratio to plain Django. The
results are also written as JSON to ``benchmarks/results/<db>.json``.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import _db
from benchmarks._memory import CONTENDERS as MEMORY_CONTENDERS

OPERATIONS = (
    "create",
    "update",
    "delete",
    "cascade",
    "chain",
    "frame",
    "memory",
    "sync",
)
DEFAULT_OPERATIONS = "create,update,delete,cascade,chain,frame"


@dataclass(frozen=True)
class Case:
    """One contender of one operation: an untimed setup, then a timed run."""

    operation: str
    contender: str
    rows: int
    setup: Callable[[], None]
    run: Callable[[], float]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "mariadb"], default="sqlite"
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument(
        "--only",
        default=DEFAULT_OPERATIONS,
        help=(
            f"comma-separated operations to run, of {', '.join(OPERATIONS)}, "
            f"or 'all' (default: {DEFAULT_OPERATIONS})"
        ),
    )
    parser.add_argument(
        "--memory-rows",
        type=int,
        default=1_000_000,
        help="rows the memory operation creates (default: 1000000)",
    )
    parser.add_argument(
        "--memory-repeats",
        type=int,
        default=1,
        help="processes per memory contender (default: 1)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="where to write results"
    )
    args = parser.parse_args(argv)
    wanted = OPERATIONS if args.only == "all" else tuple(args.only.split(","))
    unknown = sorted(set(wanted) - set(OPERATIONS))
    if unknown:
        parser.error(f"unknown operations in --only: {', '.join(unknown)}")
    args.operations = [operation for operation in OPERATIONS if operation in wanted]
    return args


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


def _raw_frame_insert(frame: Any) -> None:
    """Write a polars frame with the driver's fastest path, nothing checked.

    PostgreSQL: one COPY, ``write_row`` per row of the frame; MariaDB:
    ``LOAD DATA LOCAL INFILE`` of the frame written as CSV by polars (needs
    ``local_infile`` on client and server); SQLite: one ``executemany``.
    """
    import os
    import tempfile

    from django.db import connection

    from benchmarks.benchapp.models import Row

    table = Row._meta.db_table
    columns = ", ".join(frame.columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "postgresql":
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in frame.iter_rows():
                    copy.write_row(row)
        elif connection.vendor == "sqlite":
            marks = ", ".join(["?"] * len(frame.columns))
            raw.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", frame.iter_rows()
            )
        else:
            handle, name = tempfile.mkstemp(suffix=".csv")
            os.close(handle)
            try:
                frame.with_columns(flag=frame["flag"].cast(int)).write_csv(
                    name, include_header=False
                )
                raw.execute(
                    f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE {table} "
                    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' "
                    f"LINES TERMINATED BY '\\n' ({columns})"
                )
            finally:
                os.unlink(name)


def _raw_insert_returning(
    model: type, columns: tuple[str, ...], rows: list[tuple[Any, ...]], step: int
) -> list[int]:
    """Insert a chunk per statement, returning the new ids.

    PostgreSQL: ``INSERT ... SELECT * FROM unnest(%s::type[], ...)`` with one
    array per column (two parameters per chunk, not one per value); SQLite
    and MariaDB: a multi-row ``INSERT ... VALUES ... RETURNING``. The ids come
    back in the order of the rows on all three, which is what Django's own
    ``bulk_create`` relies on as well.
    """
    from django.db import connection

    table = model._meta.db_table
    key = model._meta.pk.column
    names = ", ".join(columns)
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            if connection.vendor == "postgresql":
                fields = {field.column: field for field in model._meta.concrete_fields}
                arrays = ", ".join(
                    f"%s::{fields[column].db_type(connection)}[]" for column in columns
                )
                sql = f"SELECT * FROM unnest({arrays})"
                params: list[Any] = [list(values) for values in zip(*part, strict=True)]
            else:
                row_marks = f"({', '.join(['%s'] * len(columns))})"
                sql = f"VALUES {', '.join([row_marks] * len(part))}"
                params = [value for row in part for value in row]
            cursor.execute(
                f"INSERT INTO {table} ({names}) {sql} RETURNING {key}", params
            )
            ids += [row[0] for row in cursor.fetchall()]
    return ids


def _raw_chain(count: int, step: int) -> None:
    """The chain with the driver: parents, then children, then grandchildren."""
    from benchmarks.benchapp.models import Child, GrandChild, Parent

    parent_ids = _raw_insert_returning(
        Parent,
        ("name", "number"),
        [(f"parent {i}", i) for i in range(count)],
        step,
    )
    child_ids = _raw_insert_returning(
        Child,
        ("parent_id", "name", "number"),
        [(pk, f"child {i}", i) for i, pk in enumerate(parent_ids)],
        step,
    )
    _raw_insert_returning(
        GrandChild,
        ("child_id", "name", "number"),
        [(pk, f"grandchild {i}", i) for i, pk in enumerate(child_ids)],
        step,
    )


def _raw_cascade_setup(parents: int, step: int) -> None:
    """Parents with 2 children each, every child with 2 grandchildren."""
    from benchmarks.benchapp.models import Child, GrandChild, Parent

    parent_ids = _raw_insert_returning(
        Parent, ("name", "number"), [(f"parent {i}", i) for i in range(parents)], step
    )
    child_ids = _raw_insert_returning(
        Child,
        ("parent_id", "name", "number"),
        [(pk, f"child {i}", n) for i, pk in enumerate(parent_ids) for n in range(2)],
        step,
    )
    _raw_insert_returning(
        GrandChild,
        ("child_id", "name", "number"),
        [
            (pk, f"grandchild {i}", n)
            for i, pk in enumerate(child_ids)
            for n in range(2)
        ],
        step,
    )


def _raw_cascade_delete(parent_ids: list[int], step: int) -> None:
    """Per chunk of parents: grandchildren, children, parents, by subquery."""
    from django.db import connection

    from benchmarks.benchapp.models import Child, GrandChild, Parent

    parent, child = Parent._meta.db_table, Child._meta.db_table
    grandchild = GrandChild._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(parent_ids), step):
            keys = ",".join(map(str, parent_ids[start : start + step]))
            cursor.execute(f"SELECT id FROM {child} WHERE parent_id IN ({keys})")
            children = ",".join(str(row[0]) for row in cursor.fetchall())
            if children:
                cursor.execute(
                    f"DELETE FROM {grandchild} WHERE child_id IN ({children})"
                )
                cursor.execute(f"DELETE FROM {child} WHERE id IN ({children})")
            cursor.execute(f"DELETE FROM {parent} WHERE id IN ({keys})")


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


def _build_cases(rows: int, step: int, db: str) -> list[Case]:  # noqa: PLR0915
    """Every case of the create, update, delete, chain and frame operations."""
    import polars as pl
    from django.db import transaction

    from benchmarks.benchapp.models import Child, GrandChild, Parent, Row
    from winidjango.src.db.bulk import (
        bulk_create_bulks_in_steps,
        bulk_create_from_frame,
        bulk_create_in_steps,
        bulk_delete_in_steps,
        bulk_update_in_steps,
    )

    state: dict[str, Any] = {}
    per_model = rows // 3
    # cascade: a parent, 2 children and 4 grandchildren per parent.
    cascade_parents = rows // 7
    cascade_rows = 7 * cascade_parents
    chain_rows = 3 * per_model

    def objects() -> list[Row]:
        return [Row(**dict(zip(_COLUMNS, v, strict=True))) for v in _values(rows)]

    def timed(work: Callable[[], object]) -> Callable[[], float]:
        def run() -> float:
            started = time.perf_counter()
            work()
            return time.perf_counter() - started

        return run

    def setup_create() -> None:
        _db.empty_tables()
        state["objs"] = objects()

    def setup_existing() -> None:
        _db.empty_tables()
        with transaction.atomic():
            _raw_insert(_values(rows), step)
        loaded = list(Row.objects.order_by("id"))
        for obj, values in zip(loaded, _values(rows, salt=7), strict=True):
            obj.name, obj.number = values[0], values[1]
        state["objs"] = loaded
        state["ids"] = [obj.pk for obj in loaded]

    def setup_cascade() -> None:
        _db.empty_tables()
        with transaction.atomic():
            _raw_cascade_setup(cascade_parents, step)
        state["parents"] = list(Parent.objects.order_by("id"))

    def django_cascade() -> None:
        # Django's chunked delete: QuerySet.delete() per chunk of parents.
        parents = state["parents"]
        with transaction.atomic():
            for start in range(0, len(parents), step):
                chunk = parents[start : start + step]
                Parent.objects.filter(pk__in=[obj.pk for obj in chunk]).delete()

    def setup_frame() -> None:
        _db.empty_tables()
        state["frame"] = pl.DataFrame(_values(rows), schema=_COLUMNS, orient="row")

    def objects_from_frame() -> list[Row]:
        # The instance path of an import: one object per row of the data.
        return [Row(**row) for row in state["frame"].iter_rows(named=True)]

    def django_frame() -> None:
        with transaction.atomic():
            Row.objects.bulk_create(objects_from_frame(), batch_size=step)

    def setup_chain() -> None:
        """Unsaved objects; each child points to an unsaved parent object."""
        _db.empty_tables()
        parents = [Parent(name=f"parent {i}", number=i) for i in range(per_model)]
        children = [
            Child(parent=parent, name=f"child {i}", number=i)
            for i, parent in enumerate(parents)
        ]
        grandchildren = [
            GrandChild(child=child, name=f"grandchild {i}", number=i)
            for i, child in enumerate(children)
        ]
        state["chain"] = (parents, children, grandchildren)

    def django_create() -> None:
        with transaction.atomic():
            Row.objects.bulk_create(state["objs"], batch_size=step)

    def django_update() -> None:
        with transaction.atomic():
            Row.objects.bulk_update(state["objs"], ["name", "number"], batch_size=step)

    def django_delete() -> None:
        # The same loaded instances winidjango gets; the ids are read per chunk.
        objs = state["objs"]
        with transaction.atomic():
            for start in range(0, len(objs), step):
                chunk = objs[start : start + step]
                Row.objects.filter(pk__in=[obj.pk for obj in chunk]).delete()

    def django_chain() -> None:
        parents, children, grandchildren = state["chain"]
        with transaction.atomic():
            Parent.objects.bulk_create(parents, batch_size=step)
            # No re-assignment (child.parent = child.parent) is needed: before
            # inserting, bulk_create copies the key of a related object that
            # was saved after its assignment into child.parent_id
            # (Model._prepare_related_fields_for_save). The parents have their
            # keys because bulk_create returns them on all three backends.
            Child.objects.bulk_create(children, batch_size=step)
            GrandChild.objects.bulk_create(grandchildren, batch_size=step)

    def winidjango_chain() -> None:
        parents, children, grandchildren = state["chain"]
        bulk_create_bulks_in_steps(
            {GrandChild: grandchildren, Child: children, Parent: parents}, step
        )

    def atomic_raw(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            with transaction.atomic():
                work()

        return run

    cases = [
        Case("create", "django", rows, setup_create, timed(django_create)),
        Case(
            "create",
            "raw driver",
            rows,
            _db.empty_tables,
            timed(atomic_raw(lambda: _raw_insert(_values(rows), step))),
        ),
    ]
    for threads in (1, 2):
        cases.append(
            Case(
                "create",
                f"winidjango threads={threads}",
                rows,
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
            Case(
                "create",
                "winidjango atomic=False threads=2",
                rows,
                setup_create,
                timed(
                    lambda: bulk_create_in_steps(
                        Row, state["objs"], step, threads=2, atomic=False
                    )
                ),
            )
        )
    cases += [
        Case("update", "django", rows, setup_existing, timed(django_update)),
        Case(
            "update",
            "raw driver",
            rows,
            setup_existing,
            timed(
                atomic_raw(lambda: _raw_update(state["ids"], _values(rows, 7), step))
            ),
        ),
    ]
    for threads in (1, 2):
        cases.append(
            Case(
                "update",
                f"winidjango threads={threads}",
                rows,
                setup_existing,
                timed(
                    lambda t=threads: bulk_update_in_steps(
                        Row, state["objs"], ["name", "number"], step, threads=t
                    )
                ),
            )
        )
    cases += [
        Case("delete", "django", rows, setup_existing, timed(django_delete)),
        Case(
            "delete",
            "raw driver",
            rows,
            setup_existing,
            timed(atomic_raw(lambda: _raw_delete(state["ids"], step))),
        ),
        Case(
            "delete",
            "winidjango",
            rows,
            setup_existing,
            timed(lambda: bulk_delete_in_steps(Row, state["objs"], step)),
        ),
        Case("cascade", "django", cascade_rows, setup_cascade, timed(django_cascade)),
        Case(
            "cascade",
            "raw driver",
            cascade_rows,
            setup_cascade,
            timed(
                atomic_raw(
                    lambda: _raw_cascade_delete(
                        [obj.pk for obj in state["parents"]], step
                    )
                )
            ),
        ),
        Case(
            "cascade",
            "winidjango",
            cascade_rows,
            setup_cascade,
            timed(lambda: bulk_delete_in_steps(Parent, state["parents"], step)),
        ),
        Case("chain", "django", chain_rows, setup_chain, timed(django_chain)),
        Case(
            "chain",
            "raw driver",
            chain_rows,
            _db.empty_tables,
            timed(atomic_raw(lambda: _raw_chain(per_model, step))),
        ),
        Case("chain", "winidjango", chain_rows, setup_chain, timed(winidjango_chain)),
        Case("frame", "django", rows, setup_frame, timed(django_frame)),
        Case(
            "frame",
            "winidjango objects",
            rows,
            setup_frame,
            timed(lambda: bulk_create_in_steps(Row, objects_from_frame(), step)),
        ),
        Case(
            "frame",
            "raw driver",
            rows,
            setup_frame,
            timed(atomic_raw(lambda: _raw_frame_insert(state["frame"]))),
        ),
        Case(
            "frame",
            "winidjango frame",
            rows,
            setup_frame,
            timed(lambda: bulk_create_from_frame(Row, state["frame"], step)),
        ),
    ]
    return cases


def _run_cases(cases: list[Case], repeats: int) -> list[dict[str, Any]]:
    """Run the cases interleaved, repeat by repeat; print and return the rates."""
    seconds: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for case in cases:
            case.setup()
            seconds.setdefault((case.operation, case.contender), []).append(case.run())
    _db.empty_tables()
    rows_of = {(case.operation, case.contender): case.rows for case in cases}
    results = []
    baseline: dict[str, float] = {}
    print(f"{'operation':<9} {'contender':<36} {'rows/s':>12} {'vs django':>10}")
    for (operation, contender), times in seconds.items():
        rate = rows_of[operation, contender] / statistics.median(times)
        baseline.setdefault(operation, rate)
        ratio = rate / baseline[operation]
        print(f"{operation:<9} {contender:<36} {rate:>12,.0f} {ratio:>9.2f}x")
        results.append(
            {
                "operation": operation,
                "contender": contender,
                "rows": rows_of[operation, contender],
                "rows_per_second": rate,
                "ratio_to_django": ratio,
                "seconds": times,
            }
        )
    return results


def _run_memory(db: str, rows: int, step: int, repeats: int) -> list[dict[str, Any]]:
    """Each memory contender in processes of its own; print and return results."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in MEMORY_CONTENDERS}
    root = Path(__file__).resolve().parent.parent
    for _ in range(repeats):
        for contender in MEMORY_CONTENDERS:
            command = [sys.executable, "-m", "benchmarks._memory", "--db", db]
            command += ["--rows", str(rows), "--step", str(step)]
            command += ["--contender", contender]
            done = subprocess.run(
                command, cwd=root, check=True, capture_output=True, text=True
            )
            runs[contender].append(json.loads(done.stdout.splitlines()[-1]))
    results = []
    print(f"\nmemory: {rows:,} rows from a generator, one process per contender")
    print(
        f"{'contender':<30} {'rows/s':>10} {'vs django':>10} "
        f"{'growth MiB':>11} {'peak MiB':>9}"
    )
    django_rate = None
    for contender, measured in runs.items():
        times = [run["seconds"] for run in measured]
        rate = rows / statistics.median(times)
        django_rate = django_rate or rate
        growth = max(run["growth_mib"] for run in measured)
        peak = max(run["peak_rss_mib"] for run in measured)
        print(
            f"{contender:<30} {rate:>10,.0f} {rate / django_rate:>9.2f}x "
            f"{growth:>11,.0f} {peak:>9,.0f}"
        )
        results.append(
            {
                "contender": contender,
                "rows": rows,
                "rows_per_second": rate,
                "ratio_to_django": rate / django_rate,
                "growth_mib": growth,
                "peak_rss_mib": peak,
                "baseline_rss_mib": min(run["baseline_rss_mib"] for run in measured),
                "seconds": times,
            }
        )
    return results


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the tables."""
    args = _parse_args(argv)
    _db.setup_django(args.db)
    _db.fresh_tables()
    cases = [
        case
        for case in _build_cases(args.rows, args.step, args.db)
        if case.operation in args.operations
    ]
    print(f"\n{args.db}: {args.rows} rows, step {args.step}, {args.repeats} repeats")
    if "chain" in args.operations:
        print(f"chain: {args.rows // 3} rows in each of its three tables")
    results = _run_cases(cases, args.repeats) if cases else []
    peak_mib = _db.peak_rss_mib()
    print(f"peak RSS: {peak_mib:.0f} MiB")
    report: dict[str, Any] = {
        "db": args.db,
        "rows": args.rows,
        "step": args.step,
        "repeats": args.repeats,
        "peak_rss_mib": peak_mib,
        "operations": args.operations,
        "results": results,
    }
    if "sync" in args.operations:
        from benchmarks._sync import run_sync

        report["sync"] = run_sync(args.db, args.rows, args.step, args.repeats)
    if "memory" in args.operations:
        from django.db import connection

        # The memory processes drop and create the tables themselves.
        connection.close()
        report["memory_rows"] = args.memory_rows
        report["memory_repeats"] = args.memory_repeats
        report["memory"] = _run_memory(
            args.db, args.memory_rows, args.step, args.memory_repeats
        )
    output = args.json or Path(__file__).parent / "results" / f"{args.db}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    _db.remove_sqlite_file()


if __name__ == "__main__":
    main()
