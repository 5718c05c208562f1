"""Print the benchmark's JSON results as Markdown tables for the docs.

Usage: ``uv run python -m benchmarks.report sqlite postgres mariadb``

Each argument is a backend, read from ``benchmarks/results/<db>.json``, or the
path of a JSON file written with ``--json``.
"""

import json
import sys
from pathlib import Path
from typing import Any

_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mariadb": "MariaDB"}


def load(source: str) -> dict[str, Any]:
    """Results as ``python -m benchmarks`` wrote them: a backend or a JSON path."""
    if source.endswith(".json"):
        path = Path(source)
    else:
        path = Path(__file__).parent / "results" / f"{source}.json"
    return json.loads(path.read_text())


def _operations_table(data: dict[str, Any]) -> list[str]:
    lines = [
        f"{data['rows']:,} rows, step {data['step']}, median of {data['repeats']} "
        f"repeats; peak RSS {data['peak_rss_mib']:.0f} MiB.",
    ]
    if any(row["operation"] == "chain" for row in data["results"]):
        per_model = data["rows"] // 3
        lines.append(
            f"The chain writes {per_model:,} rows to each of its three tables."
        )
    lines += [
        "",
        "| Operation | Contender | Rows/s | vs Django |",
        "| --- | --- | ---: | ---: |",
    ]
    lines += [
        f"| {row['operation']} | {row['contender']} | "
        f"{row['rows_per_second']:,.0f} | {row['ratio_to_django']:.2f}x |"
        for row in data["results"]
    ]
    return lines


def _memory_table(data: dict[str, Any]) -> list[str]:
    repeats = data.get("memory_repeats", 1)
    lines = [
        f"Memory: {data['memory_rows']:,} rows created from a generator, step "
        f"{data['step']}, each contender in a process of its own "
        f"({repeats} per contender). Growth is the peak RSS minus the RSS "
        "right after Django's setup.",
        "",
        "| Contender | Rows/s | vs Django | Growth MiB | Peak MiB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {row['contender']} | {row['rows_per_second']:,.0f} | "
        f"{row['ratio_to_django']:.2f}x | {row['growth_mib']:,.0f} | "
        f"{row['peak_rss_mib']:,.0f} |"
        for row in data["memory"]
    ]
    return lines


def table(source: str) -> str:
    """The Markdown tables of one backend's results (a backend or a JSON path)."""
    data = load(source)
    lines = [f"### {_TITLES.get(data['db'], data['db'])}", ""]
    if data["results"]:
        lines += _operations_table(data)
    if data.get("memory"):
        if data["results"]:
            lines.append("")
        lines += _memory_table(data)
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(table(source) for source in sys.argv[1:] or ["sqlite"]))
