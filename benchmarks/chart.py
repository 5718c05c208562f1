"""Draw winidjango's speed-up over Django per operation and backend as a PNG.

Usage (needs matplotlib, in the ``bench`` dependency group)::

    uv run --group bench python -m benchmarks.chart sqlite postgres mariadb

Each argument is a backend, read from ``benchmarks/results/<db>.json``, or the
path of a JSON file written with ``--json``. The chart goes to
``docs/img/benchmark.png`` (``--output`` to change it): one group of bars per
operation, one bar per backend, its height winidjango's rate divided by plain
Django's (log scale), and a black mark at the operation's target; bars below
their target are hatched. Each bar is winidjango called with its default
settings: ``winidjango threads=1`` for create and update, ``winidjango`` for
delete and chain.
"""

import argparse
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from benchmarks.report import load

#: The targets of the "Speed" issue: winidjango's rate over Django's.
TARGETS: dict[str, dict[str, float]] = {
    "create": {"sqlite": 3.0, "postgres": 3.0, "mariadb": 1.5},
    "update": {"sqlite": 20.0, "postgres": 20.0, "mariadb": 20.0},
    "delete": {"sqlite": 1.5, "postgres": 1.5, "mariadb": 1.5},
    "cascade": {"sqlite": 5.0, "postgres": 5.0, "mariadb": 5.0},
    "chain": {"sqlite": 2.5, "postgres": 2.5, "mariadb": 2.5},
}
_TARGET_LABELS = {
    "create": "target 3x\n(MariaDB 1.5x)",
    "update": "target 20x",
    "delete": "target 1.5x",
    "cascade": "target 5x",
    "chain": "target 2.5x",
}
#: The contender called the way a user would: default settings (one thread).
_CONTENDERS = {
    "create": "winidjango threads=1",
    "update": "winidjango threads=1",
    "delete": "winidjango",
    "cascade": "winidjango",
    "chain": "winidjango",
}
_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mariadb": "MariaDB"}
_COLORS = {"sqlite": "#4c78a8", "postgres": "#f58518", "mariadb": "#54a24b"}
_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "benchmark.png"


def _ratio(data: dict[str, Any], operation: str) -> float | None:
    for row in data["results"]:
        if row["operation"] == operation and row["contender"] == _CONTENDERS[operation]:
            return float(row["ratio_to_django"])
    return None


def _times(value: float, _position: object = None) -> str:
    return f"{value:g}x"


def _label(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def draw(sources: list[str], output: Path) -> None:
    """Write the chart of ``sources`` (backends or JSON paths) to ``output``."""
    runs = [load(source) for source in sources]
    operations = [
        operation
        for operation in TARGETS
        if any(_ratio(data, operation) is not None for data in runs)
    ]
    if not operations:
        message = "no create, update, delete or chain results in " + ", ".join(sources)
        raise SystemExit(message)
    width = 0.8 / len(runs)
    # The Agg canvas renders without pyplot, so no display is ever needed.
    fig = Figure(figsize=(9, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values: list[float] = [1.0]
    for index, data in enumerate(runs):
        db = data["db"]
        for group, operation in enumerate(operations):
            ratio = _ratio(data, operation)
            if ratio is None:
                continue
            x = group - 0.4 + width * (index + 0.5)
            target = TARGETS[operation].get(db)
            missed = target is not None and ratio < target
            ax.bar(
                x,
                ratio,
                width * 0.9,
                color=_COLORS.get(db, "#999999"),
                hatch="///" if missed else None,
                edgecolor="white",
                linewidth=0,
                zorder=2,
            )
            if target is not None:
                ax.hlines(
                    target,
                    x - width * 0.45,
                    x + width * 0.45,
                    colors="black",
                    linewidth=2,
                    zorder=3,
                )
                values.append(target)
            # Above the bar, or above the target mark when that is higher.
            ax.annotate(
                _label(ratio),
                (x, max(ratio, target or ratio)),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
            values.append(ratio)
    ax.axhline(1, color="#666666", linewidth=0.8, linestyle="--", zorder=1)
    ax.set_yscale("log")
    low = min(0.5, min(values) / 1.5)
    high = max(values) * 2
    ax.set_ylim(low, high)
    ticks = [t for t in (0.5, 1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200) if low <= t]
    ax.yaxis.set_major_locator(FixedLocator([t for t in ticks if t <= high]))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(_times))
    ax.grid(axis="y", color="#dddddd", zorder=0)
    ax.set_xticks(
        range(len(operations)),
        [f"{operation}\n{_TARGET_LABELS[operation]}" for operation in operations],
    )
    ax.set_xlim(-0.5, len(operations) - 0.5)
    ax.set_ylabel("winidjango rows/s ÷ Django rows/s (log scale)")
    rows = sorted({data["rows"] for data in runs})
    ax.set_title(
        "winidjango's speed-up over plain Django\n"
        f"({' / '.join(f'{r:,}' for r in rows)} rows, higher is faster)",
        fontsize=11,
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles: list[Patch | Line2D] = [
        Patch(
            color=_COLORS.get(data["db"], "#999999"),
            label=_TITLES.get(data["db"], data["db"]),
        )
        for data in runs
    ]
    handles += [
        Line2D([], [], color="black", linewidth=2, label="target"),
        Patch(facecolor="#999999", hatch="///", edgecolor="white", label="missed"),
        Line2D([], [], color="#666666", linestyle="--", label="Django (1x)"),
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=9, frameon=False)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, metadata={"Software": None})
    print(f"wrote {output}")


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and draw the chart."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.chart", description=__doc__
    )
    parser.add_argument(
        "sources",
        nargs="*",
        default=["sqlite", "postgres", "mariadb"],
        help="backends (results/<db>.json) or JSON paths",
    )
    parser.add_argument("--output", type=Path, default=_OUTPUT)
    args = parser.parse_args(argv)
    draw(args.sources, args.output)


if __name__ == "__main__":
    main()
