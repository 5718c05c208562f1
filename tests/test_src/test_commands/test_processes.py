"""``--processes N``: the import's clean and build steps in worker processes.

Each import runs once with one process and once with two, on the same empty
database, and what is in the database afterwards must be the same. The data
has 3,000 rows, so that two slices of at least
``_parallel.MIN_ROWS_PER_PROCESS`` rows are cut; keys repeat across the
slices on purpose. Worker processes are real (``spawn``), and they read the
test database that the parent uses.
"""

import io
import time
import warnings
from collections.abc import Mapping
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Model

from tests.testapp.management.commands import import_catalog, import_library
from tests.testapp.models import Author, Book, Edition, Publisher, Tag
from winidjango.src.commands import _parallel
from winidjango.src.commands.import_data import ImportDataBaseCommand

ROWS = 3000


class CatalogCommand(import_catalog.Command):
    """The catalog sync (frames, or objects with ``as_objects``)."""

    def __init__(self, source: pl.DataFrame, *, as_objects: bool = False) -> None:
        super().__init__()
        self.source = source
        self.as_objects = as_objects


class BrokenBuildCommand(CatalogCommand):
    """Fails to build a row whose title is ``boom``, wherever it is."""

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> Mapping[type[Model], list[Model] | pl.DataFrame]:
        if "boom" in df["title"].to_list():
            message = "cannot build the title 'boom'"
            raise ValueError(message)
        return super().get_bulks_by_model(df)


class LibraryCommand(import_library.Command):
    """Authors and books as objects; books point to unsaved authors."""

    def __init__(self, source: pl.DataFrame) -> None:
        super().__init__()
        self.source = source


def catalog_rows() -> list[tuple[Any, ...]]:
    """Ten publishers in every slice; ISBN ``dup`` in the first and last rows."""
    rows: list[tuple[Any, ...]] = [
        (f"P{n % 10}", f"Publisher {n % 10}", f"isbn-{n:05d}", f"Title {n}", n + 1)
        for n in range(ROWS)
    ]
    rows[0] = ("P1", "Publisher 1", "dup", "First of dup", 11)
    rows[-1] = ("P2", "Publisher 2", "dup", "Last of dup", 22)
    # Dropped by the cleaning (no title), in the second slice.
    rows[2500] = ("P3", "Publisher 3", "isbn-02500", None, 5)
    return rows


def run(command: ImportDataBaseCommand, alias: str, **options: Any) -> None:
    call_command(
        command,
        database=alias,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        **options,
    )


def catalog_in_db() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    publishers = list(Publisher.objects.order_by("pk").values_list("code", "name"))
    editions = list(
        Edition.objects.order_by("pk").values_list(
            "isbn", "publisher__code", "title", "pages"
        )
    )
    return publishers, editions


def empty_catalog() -> None:
    Edition.objects.all().delete()
    Publisher.objects.all().delete()


@pytest.mark.parametrize("as_objects", [False, True], ids=["frames", "objects"])
def test_two_processes_write_what_one_process_writes(
    alias: str, *, as_objects: bool
) -> None:
    source = import_catalog.catalog_frame(catalog_rows())
    one = CatalogCommand(source, as_objects=as_objects)
    run(one, alias, processes=1)
    written_by_one = catalog_in_db()
    empty_catalog()

    two = CatalogCommand(source, as_objects=as_objects)
    run(two, alias, processes=2)
    written_by_two = catalog_in_db()

    assert written_by_two == written_by_one
    publishers, editions = written_by_two
    # Every slice built the ten publishers; each is written once.
    assert len(publishers) == 10
    assert len(editions) == ROWS - 2  # one duplicate ISBN, one row without title
    # The ISBN in the first and the last row (one slice each): the first
    # row is kept, as in one process.
    assert ("dup", "P1", "First of dup", 11) in editions
    assert two.report.created == one.report.created
    assert two.report.rows_kept == one.report.rows_kept == ROWS - 2


def test_objects_of_later_slices_point_to_the_kept_parent(alias: str) -> None:
    """Books of both slices point to the one written Ann; pages of a repeat add up."""
    # Sorted by author, the Anns fill the first slice and start the second.
    rows = [("Ann" if n % 3 else "Bob", f"Book {n:05d}", 1) for n in range(ROWS)]
    rows[-1] = ("Ann", "Book 00001", 1)  # (author, title) of row 2, pages summed
    source = pl.DataFrame(
        rows,
        schema={"author": pl.Utf8, "title": pl.Utf8, "pages": pl.Int64},
        orient="row",
    )

    def written() -> tuple[list[str], list[tuple[Any, ...]]]:
        authors = list(Author.objects.order_by("pk").values_list("name", flat=True))
        books = sorted(Book.objects.values_list("title", "author__name", "pages"))
        return authors, books

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the library's old hook
        run(LibraryCommand(source), alias, processes=1)
        by_one = written()
        Book.objects.all().delete()
        Author.objects.all().delete()
        run(LibraryCommand(source), alias, processes=2)
    by_two = written()

    assert by_two == by_one
    authors, books = by_two
    assert sorted(authors) == ["Ann", "Bob"]
    assert len(books) == ROWS - 1
    assert ("Book 00001", "Ann", 2) in books


def test_bad_data_in_the_second_slice_is_a_clean_error_and_writes_nothing(
    alias: str,
) -> None:
    rows = catalog_rows()
    rows[2800] = (None, "Nobody", "isbn-02800", "Orphan", 3)  # publisher required
    command = CatalogCommand(import_catalog.catalog_frame(rows))
    with pytest.raises(CommandError) as raised:
        run(command, alias, processes=2)
    message = str(raised.value)
    assert message.startswith(
        "CatalogCleaningDF refused the data: clean, rows 1501-3000"
    )
    assert "(process 2 of 2)" in message
    assert "publisher" in message
    assert Publisher.objects.count() == 0
    assert Edition.objects.count() == 0


def test_a_failing_build_in_the_second_slice_names_the_step_and_writes_nothing(
    alias: str,
) -> None:
    rows = catalog_rows()
    rows[2900] = ("P1", "Publisher 1", "isbn-02900", "boom", 3)
    command = BrokenBuildCommand(import_catalog.catalog_frame(rows))
    with pytest.raises(CommandError) as raised:
        run(command, alias, processes=2)
    message = str(raised.value)
    assert message.startswith("build, rows 1500-2998 (process 2 of 2): ")
    assert "BrokenBuildCommand.get_bulks_by_model() failed: ValueError" in message
    assert "cannot build the title 'boom'" in message
    assert Publisher.objects.count() == 0
    assert Edition.objects.count() == 0


def test_a_small_frame_stays_in_the_command_process(alias: str) -> None:
    """Below two slices' worth of rows, no worker is started."""
    rows = catalog_rows()[:100]
    command = CatalogCommand(import_catalog.catalog_frame(rows))
    run(command, alias, processes=2)
    assert Edition.objects.count() == 100
    assert _parallel.slices(100, 2) == [(0, 100)]


def test_slices_are_contiguous_and_even() -> None:
    assert _parallel.slices(3000, 2) == [(0, 1500), (1500, 3000)]
    assert _parallel.slices(3001, 3) == [(0, 1001), (1001, 2001), (2001, 3001)]
    assert _parallel.slices(2500, 4) == [(0, 1250), (1250, 2500)]
    assert _parallel.slices(0, 2) == [(0, 0)]


def test_merge_keeps_the_first_slice_per_key_and_rows_repeated_in_one_slice(
    backend: str,
) -> None:
    first = pl.DataFrame({"name": ["a", "b"]})
    second = pl.DataFrame({"name": ["b", "c", "c", None]})
    merged = _parallel.merge_bulks([{Tag: first}, {Tag: second}], keys={Tag: ["name"]})
    frame = merged[Tag]
    assert isinstance(frame, pl.DataFrame)
    # "b" came from the first slice; "c" twice in one slice stays twice (the
    # frame check refuses it, as in one process); a null key is no copy.
    assert frame["name"].to_list() == ["a", "b", "c", "c", None]
    unkeyed = _parallel.merge_bulks([{Tag: first}, {Tag: second}], keys={})
    unkeyed_frame = unkeyed[Tag]
    assert isinstance(unkeyed_frame, pl.DataFrame)
    assert unkeyed_frame.height == 6


class SlowBuildCommand(CatalogCommand):
    """Takes seconds to build a slice that holds the title ``slow``."""

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> Mapping[type[Model], list[Model] | pl.DataFrame]:
        if "slow" in df["title"].to_list():
            time.sleep(3)
        return super().get_bulks_by_model(df)


def test_timeout_while_workers_build_rolls_back_and_says_timed_out(
    alias: str,
) -> None:
    rows = catalog_rows()
    rows[2900] = ("P1", "Publisher 1", "isbn-02900", "slow", 3)
    command = SlowBuildCommand(import_catalog.catalog_frame(rows))
    with pytest.raises(CommandError, match="Timed out after 1"):
        run(command, alias, processes=2, timeout=1)
    assert Publisher.objects.count() == 0
    assert Edition.objects.count() == 0


def test_flights_slice_with_two_processes_writes_what_one_process_writes(
    alias: str,
) -> None:
    """The demo's five tables, frames and objects: small tables in every slice."""
    from examples.flights.flights.management.commands import import_flights
    from examples.flights.flights.models import (
        Airline,
        Airport,
        Flight,
        Plane,
        Weather,
    )

    models: list[type[Model]] = [Flight, Weather, Plane, Airport, Airline]

    def written() -> dict[str, list[tuple[Any, ...]]]:
        tables = {}
        for model in models:
            names = [
                f.attname for f in model._meta.concrete_fields if not f.primary_key
            ]
            if not model._meta.pk.auto_created and model._meta.pk.name != "id":
                names.append(model._meta.pk.attname)
            rows = model._default_manager.values_list(*names)
            tables[model.__name__] = sorted(map(tuple, rows), key=repr)
        return tables

    def empty() -> None:
        for model in models:
            model._default_manager.all().delete()

    for objects in (False, True):
        run(import_flights.Command(), alias, limit=5000, objects=objects, processes=1)
        by_one = written()
        empty()
        run(import_flights.Command(), alias, limit=5000, objects=objects, processes=2)
        by_two = written()
        empty()
        assert by_two == by_one
        assert len(by_two["Flight"]) > 4000
        assert len(by_two["Airline"]) == 16


def test_a_command_class_workers_cannot_import_is_refused_before_writing(
    alias: str,
) -> None:
    class Local(CatalogCommand):
        pass

    command = Local(import_catalog.catalog_frame(catalog_rows()))
    with pytest.raises(CommandError, match="must be importable by a worker"):
        run(command, alias, processes=2)
    assert Edition.objects.count() == 0


class TwoSubsetsCleaningDF(import_library.LibraryCleaningDF):
    """Duplicates by (author, title), then by title alone."""

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.AUTHOR, cls.TITLE), (cls.TITLE,))


@pytest.mark.parametrize(
    "cleaning_cls",
    [import_library.LibraryCleaningDF, TwoSubsetsCleaningDF],
    ids=["one-subset", "two-subsets"],
)
def test_cleaning_in_slices_gives_the_frame_of_one_process(
    cleaning_cls: type[import_library.LibraryCleaningDF],
) -> None:
    # Every title three times across the data, by two authors; pages add up.
    rows = [(f"A{n % 2}", f"T{n % 1000:04d}", n) for n in range(ROWS)]
    raw = pl.DataFrame(
        rows,
        schema={"author": pl.Utf8, "title": pl.Utf8, "pages": pl.Int64},
        orient="row",
    )
    in_one = cleaning_cls(raw).df
    in_two = _parallel.clean_in_processes(cleaning_cls, raw, processes=2)
    assert in_two.equals(in_one)
