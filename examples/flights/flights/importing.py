"""The parts of the flights import that are plain functions of data frames.

- :func:`check_references`: the rules across tables (a flight's airports and
  airline must exist; its plane may be unknown);
- :func:`model_frame`: a cleaned table as one column per model field;
- :func:`build_instances`: model objects from a model frame, quickly (for
  ``--objects``; by default the frames are written as they are);
- :class:`TableReport` and :func:`report_lines`: the per-table report.

They live outside the command class on purpose: every method of a winidjango
command is wrapped by a logger that turns its arguments and result into text,
which for hundreds of thousands of model objects costs seconds.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl
from django.db.models import Model

from examples.flights.flights import data
from examples.flights.flights.models import Airline, Airport, Flight, Plane, Weather

MODELS: dict[str, type[Model]] = {
    data.AIRLINES: Airline,
    data.AIRPORTS: Airport,
    data.PLANES: Plane,
    data.WEATHER: Weather,
    data.FLIGHTS: Flight,
}

#: The fields that identify a row of each model in the data (its natural
#: key); the database enforces each as unique, so the import can sync.
NATURAL_KEYS: dict[type[Model], tuple[str, ...]] = {
    Airline: ("carrier",),
    Airport: ("faa",),
    Plane: ("tailnum",),
    Weather: ("airport", "time_hour"),
    Flight: ("date", "carrier", "number", "origin", "sched_dep_time"),
}


@dataclass
class TableReport:
    """What the import did with one table."""

    name: str
    read: int = 0
    kept: int = 0
    #: ``{raw column: values that were NA}``; they are null now.
    missing: dict[str, int] = field(default_factory=dict)
    #: ``{reason: rows}`` for the rows that were left out.
    dropped: dict[str, int] = field(default_factory=dict)
    #: ``{what was repaired: rows}``; the rows were kept.
    repaired: dict[str, int] = field(default_factory=dict)
    #: Remarks on rows that were kept as they are, ``{remark: rows}``.
    notes: dict[str, int] = field(default_factory=dict)
    created: int = 0
    #: Rows whose natural key was saved already and whose other fields changed.
    updated: int = 0
    #: Rows saved already and equal to the data: no write at all.
    unchanged: int = 0
    #: With ``--delete``: rows deleted, cascades from other tables included.
    deleted: int = 0
    #: Seconds spent on this table, per step (read, clean, build).
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def dropped_rows(self) -> int:
        """All rows left out, whatever the reason."""
        return self.read - self.kept

    @property
    def total_seconds(self) -> float:
        """Seconds spent on this table, all its steps together."""
        return sum(self.seconds.values())

    def add_seconds(self, step: str, seconds: float) -> None:
        """Count ``seconds`` more for ``step``."""
        self.seconds[step] = self.seconds.get(step, 0.0) + seconds


class Bulks(dict[type[Model], list[Model] | pl.DataFrame]):
    """``{model: objects or frame}``, shown as a summary for cheap logging."""

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{model.__name__} {len(bulk)}" for model, bulk in self.items()
        )
        return f"<Bulks {sizes or 'empty'}>"

    __str__ = __repr__


# -- rules across tables -----------------------------------------------------

#: The column that carries a cleaned flight's row number in the raw flights
#: (1-based), when the import keeps track of it (``--rejects``).
SOURCE_ROW = "source_row"


def _is_in(column: str, values: pl.Series) -> pl.Expr:
    return pl.col(column).is_in(values.implode())


def _codes(counts: pl.DataFrame, column: str) -> str:
    parts = [f"{row[column]} {row['len']:,}" for row in counts.iter_rows(named=True)]
    return ", ".join(parts)


def check_references(
    flights: pl.DataFrame,
    parents: Mapping[str, pl.DataFrame],
    report: TableReport,
    *,
    dropped: list[tuple[int, str, str, str]] | None = None,
) -> pl.DataFrame:
    """Drop flights whose airline or airports are unknown; count unknown planes.

    A flight cannot exist without its airline, origin and destination, so a
    code that is not in its table drops the flight (the reason names the
    codes). The plane is optional: a tail number that is not in the planes
    table stays on the flight as text, and the flight gets no plane.

    With ``dropped`` (a list) and a :data:`SOURCE_ROW` column in ``flights``,
    each dropped flight is also appended to ``dropped`` as ``(source row,
    column, rule, detail)``, e.g. ``(13, "dest", "dest not in airports",
    "(faa='BQN')")``, for the reject file.
    """
    rules = (
        ("carrier", data.AIRLINES, "carrier", "airlines"),
        ("origin", data.AIRPORTS, "faa", "airports"),
        ("dest", data.AIRPORTS, "faa", "airports"),
    )
    for column, table, key, table_name in rules:
        known = parents[table].get_column(key)
        unknown = flights.filter(~_is_in(column, known))
        if unknown.height:
            counts = (
                unknown.group_by(column)
                .len()
                .sort(["len", column], descending=[True, False])
            )
            reason = f"{column} not in {table_name} ({_codes(counts, column)})"
            report.dropped[reason] = unknown.height
            if dropped is not None and SOURCE_ROW in unknown.columns:
                rule = f"{column} not in {table_name}"
                for row, code in unknown.select(SOURCE_ROW, column).iter_rows():
                    dropped.append((row, column, rule, f"({key}={code!r})"))
            flights = flights.filter(_is_in(column, known))
    planes = parents[data.PLANES].get_column("tailnum")
    unknown_planes = flights.filter(
        pl.col("tailnum").is_not_null() & ~_is_in("tailnum", planes)
    )
    if unknown_planes.height:
        tails = unknown_planes.get_column("tailnum").n_unique()
        what = f"tailnum not in planes ({tails:,} tail numbers): kept, with no plane"
        report.repaired[what] = unknown_planes.height
    return flights


def note_flights(flights: pl.DataFrame, report: TableReport) -> None:
    """Count the kept flights that have gaps the data explains."""
    cancelled = pl.col("dep_time").is_null()
    notes = {
        "cancelled (no dep_time): kept, with no times or delays": cancelled,
        "no arr_time though departed (diverted): kept": ~cancelled
        & pl.col("arr_time").is_null(),
        "no tailnum: kept, with no plane": pl.col("tailnum").is_null(),
    }
    for note, condition in notes.items():
        count = int(flights.select(condition.sum()).item())
        if count:
            report.notes[note] = count


def check_weather_airports(
    weather: pl.DataFrame, airports: pl.DataFrame, report: TableReport
) -> pl.DataFrame:
    """Drop observations made at an airport that is not in the airports table."""
    known = airports.get_column("faa")
    unknown = weather.filter(~_is_in("origin", known))
    if unknown.height:
        counts = unknown.group_by("origin").len().sort("origin")
        reason = f"origin not in airports ({_codes(counts, 'origin')})"
        report.dropped[reason] = unknown.height
    return weather.filter(_is_in("origin", known))


# -- from cleaned frames to model objects -------------------------------------


def _time(column: str) -> pl.Expr:
    """An HHMM integer column as a time of day (null stays null)."""
    hhmm = pl.col(column)
    return pl.time(hhmm // 100, hhmm % 100).alias(column)


def model_frame(
    name: str, cleaned: pl.DataFrame, parents: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    """The cleaned table ``name`` with one column per field ``attname``."""
    if name == data.WEATHER:
        return cleaned.rename({"origin": "airport_id"})
    if name != data.FLIGHTS:
        return cleaned
    planes = parents[data.PLANES].get_column("tailnum")
    return cleaned.select(
        pl.date("year", "month", "day").alias("date"),
        pl.col("carrier").alias("carrier_id"),
        "number",
        "tailnum",
        pl.when(_is_in("tailnum", planes))
        .then(pl.col("tailnum"))
        .otherwise(None)
        .alias("plane_id"),
        pl.col("origin").alias("origin_id"),
        pl.col("dest").alias("dest_id"),
        *(_time(column) for column in ("sched_dep_time", "dep_time")),
        "dep_delay",
        *(_time(column) for column in ("sched_arr_time", "arr_time")),
        "arr_delay",
        "air_time",
        "distance",
        "time_hour",
    )


def build_instances[M: Model](model: type[M], frame: pl.DataFrame) -> list[M]:
    """Unsaved ``model`` objects, one per row of a :func:`model_frame`.

    The values are passed by position, in the order of the model's concrete
    fields (the way Django itself builds objects from database rows), which
    is several times faster than keyword arguments; a foreign key is given
    as its id (``carrier_id="UA"``), so no parent object is looked up.
    """
    meta = model._meta
    assert meta.pk is not None  # every concrete model has one
    columns = [
        pl.lit(None).alias(f.attname) if f is meta.pk else pl.col(f.attname)
        for f in meta.concrete_fields
    ]
    return [model(*row) for row in frame.select(columns).iter_rows()]


# -- the report ------------------------------------------------------------------


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def report_lines(
    tables: Iterable[TableReport],
    *,
    seconds: float,
    commit_seconds: float,
    check_seconds: float,
    database: str,
    plan_seconds: float = 0.0,
    write_seconds: float = 0.0,
    dry_run: bool = False,
) -> list[str]:
    """The per-table report: counts, reasons, repairs and speed.

    A table's seconds are those of its reading, cleaning and building; the
    check of all frames, the planning of the sync (which reads the saved
    rows' keys and values) and the writing (with the database's foreign key
    check) are one step each for all tables, and the commit comes after
    that: they count in the total only.
    """
    tables = list(tables)
    header = (
        f"{'table':<9}{'read':>9}{'kept':>9}{'dropped':>9}{'created':>9}"
        f"{'updated':>9}{'unchanged':>11}{'deleted':>9}{'seconds':>9}{'rows/s':>9}"
    )
    lines = ["Per table", "  " + header]
    for t in tables:
        lines.append(
            f"  {t.name:<9}{t.read:>9,}{t.kept:>9,}{t.dropped_rows:>9,}"
            f"{t.created:>9,}{t.updated:>9,}{t.unchanged:>11,}{t.deleted:>9,}"
            f"{t.total_seconds:>9.2f}{_rate(t.kept, t.total_seconds):>9}"
        )
    read = sum(t.read for t in tables)
    lines.append(
        f"  {'total':<9}{read:>9,}{sum(t.kept for t in tables):>9,}"
        f"{sum(t.dropped_rows for t in tables):>9,}"
        f"{sum(t.created for t in tables):>9,}"
        f"{sum(t.updated for t in tables):>9,}"
        f"{sum(t.unchanged for t in tables):>11,}"
        f"{sum(t.deleted for t in tables):>9,}{seconds:>9.2f}"
        f"{_rate(read, seconds):>9}"
    )
    lines.append(
        f"  (the total includes {check_seconds:.2f} s of checking all frames, "
        f"{plan_seconds:.2f} s of planning the sync, {write_seconds:.2f} s of "
        f"writing with the foreign key check and {commit_seconds:.2f} s of commit)"
    )
    details = []
    for t in tables:
        if t.missing:
            columns = ", ".join(f"{c} {n:,}" for c, n in t.missing.items())
            details.append(f"  {t.name}: NA read as empty: {columns}")
        details += [f"  {t.name}: dropped {n:,}: {why}" for why, n in t.dropped.items()]
        details += [f"  {t.name}: repaired {n:,}: {w}" for w, n in t.repaired.items()]
        details += [f"  {t.name}: {n:,} {note}" for note, n in t.notes.items()]
    if details:
        lines += ["What the cleaning found", *details]
    if dry_run:
        lines.append(f"Dry run on {database} in {seconds:.1f} s: nothing was kept")
    else:
        lines.append(f"Imported into {database} in {seconds:.1f} s")
    return lines
