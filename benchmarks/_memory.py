"""One contender of the ``memory`` operation, alone in a fresh process.

``python -m benchmarks`` starts this module once per contender (and repeat), so
that the process's peak resident memory belongs to that contender only::

    python -m benchmarks._memory --db sqlite --rows 1000000 --step 1000 \
        --contender winidjango

It creates ``--rows`` ``Row`` objects from a generator and prints one JSON
line: the rows written, the seconds taken, the resident memory right after
Django's setup (``baseline_rss_mib``), the peak (``peak_rss_mib``) and the
difference (``growth_mib``), which is what the contender itself needed.
"""

import argparse
import json
import time
from collections.abc import Callable, Iterator
from itertools import islice

from benchmarks import _db

CONTENDERS = (
    "django",
    "django chunked",
    "winidjango",
    "winidjango returning objects",
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._memory")
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "mariadb"], default="sqlite"
    )
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument("--contender", choices=CONTENDERS, required=True)
    return parser.parse_args(argv)


def _work(contender: str, rows: int, step: int) -> Callable[[], int]:
    """The contender's timed work; it returns the number of rows it wrote."""
    from django.db import transaction

    from benchmarks.benchapp.models import Row
    from winidjango.src.db.bulk import bulk_create_in_steps

    def generate() -> Iterator[Row]:
        for i in range(rows):
            yield Row(
                name=f"row {i}",
                number=i,
                amount=i * 0.5,
                flag=i % 2 == 0,
                note=f"note {i}",
            )

    def django_list() -> int:
        # bulk_create needs a list (it takes len() and slices it), so the
        # generator has to be materialized first.
        with transaction.atomic():
            return len(Row.objects.bulk_create(list(generate()), batch_size=step))

    def django_chunked() -> int:
        # What a Django user writes to keep memory flat: one list per chunk.
        written = 0
        objs = generate()
        with transaction.atomic():
            while chunk := list(islice(objs, step)):
                written += len(Row.objects.bulk_create(chunk, batch_size=step))
        return written

    def winidjango() -> int:
        return bulk_create_in_steps(Row, generate(), step, return_objects=False)

    def winidjango_returning() -> int:
        return len(bulk_create_in_steps(Row, generate(), step))

    return {
        "django": django_list,
        "django chunked": django_chunked,
        "winidjango": winidjango,
        "winidjango returning objects": winidjango_returning,
    }[contender]


def main(argv: list[str] | None = None) -> None:
    """Run one contender and print its JSON line."""
    args = _parse_args(argv)
    _db.setup_django(args.db)
    _db.fresh_tables()
    work = _work(args.contender, args.rows, args.step)
    baseline = _db.current_rss_mib()
    started = time.perf_counter()
    written = work()
    seconds = time.perf_counter() - started
    peak = _db.peak_rss_mib()

    from benchmarks.benchapp.models import Row

    stored = Row.objects.count()
    if written != args.rows or stored != args.rows:
        message = f"{args.contender}: {written} written, {stored} stored"
        raise SystemExit(f"{message}, {args.rows} expected")
    _db.fresh_tables()
    _db.remove_sqlite_file()
    print(
        json.dumps(
            {
                "contender": args.contender,
                "rows": written,
                "seconds": seconds,
                "baseline_rss_mib": baseline,
                "peak_rss_mib": peak,
                "growth_mib": peak - baseline,
            }
        )
    )


if __name__ == "__main__":
    main()
