"""Print the benchmark's JSON results as Markdown tables for the docs.

Usage: ``uv run python -m benchmarks.report sqlite postgres mariadb``
"""

import json
import sys
from pathlib import Path

_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mariadb": "MariaDB"}


def table(db: str) -> str:
    """The Markdown table of one backend's latest results."""
    data = json.loads((Path(__file__).parent / "results" / f"{db}.json").read_text())
    lines = [
        f"### {_TITLES.get(db, db)}",
        "",
        f"{data['rows']:,} rows, step {data['step']}, median of {data['repeats']} "
        f"repeats; peak RSS {data['peak_rss_mib']:.0f} MiB.",
        "",
        "| Operation | Contender | Rows/s | vs Django |",
        "| --- | --- | ---: | ---: |",
    ]
    lines += [
        f"| {row['operation']} | {row['contender']} | "
        f"{row['rows_per_second']:,.0f} | {row['ratio_to_django']:.2f}x |"
        for row in data["results"]
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(table(db) for db in sys.argv[1:] or ["sqlite"]))
