"""ImportDataBaseCommand with frames per model: bulk_create_from_frame underneath.

The command under test, ``import_places``, returns polars frames for
countries and cities (or objects for the cities, to mix both kinds).
"""

import io
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from tests.testapp.management.commands import import_places
from tests.testapp.models import City, Country
from winidjango.src.commands._progress import ChunkProgress
from winidjango.src.commands.import_data import ImportDataBaseCommand
from winidjango.src.db import imports
from winidjango.src.db.bulk import bulk_create_from_frame


class PlacesCommand(import_places.Command):
    def __init__(
        self, source: pl.DataFrame | None = None, *, cities_as_objects: bool = False
    ) -> None:
        super().__init__()
        if source is not None:
            self.source = source
        self.cities_as_objects = cities_as_objects


def run(command: ImportDataBaseCommand, alias: str, *args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(
        command, *args, database=alias, stdout=out, stderr=io.StringIO(), **options
    )
    return out.getvalue()


def connection_vendor(alias: str) -> str:
    return str(connections[alias].vendor)


def cities() -> list[tuple[str, str]]:
    return sorted(City.objects.values_list("name", "country_id"))


EXPECTED_CITIES = [("Berlin", "DE"), ("Lyon", "FR"), ("Paris", "FR")]


@pytest.mark.parametrize("cities_as_objects", [False, True])
def test_frames_are_written_parents_first(alias: str, cities_as_objects: bool) -> None:
    command = PlacesCommand(cities_as_objects=cities_as_objects)
    out = run(command, alias)
    assert sorted(Country.objects.values_list("code", "name")) == [
        ("DE", "Germany"),
        ("FR", "France"),
    ]
    assert cities() == EXPECTED_CITIES
    assert command.report.created == {"testapp.Country": 2, "testapp.City": 3}
    assert command.report.already_saved == {"testapp.Country": 0, "testapp.City": 0}
    assert "created: testapp.Country 2, testapp.City 3" in out


def test_dry_run_counts_the_frames_rows_and_keeps_nothing(alias: str) -> None:
    command = PlacesCommand()
    out = run(command, alias, "--dry-run")
    assert not Country.objects.exists()
    assert not City.objects.exists()
    assert "2 rows inserted into testapp_country" in out
    assert "3 rows inserted into testapp_city" in out


def test_bad_frame_is_refused_before_any_write(alias: str) -> None:
    source = import_places.SAMPLE.with_columns(
        pl.when(pl.col("city") == "Berlin")
        .then(pl.lit("B" * 101))
        .otherwise(pl.col("city"))
        .alias("city")
    )
    with pytest.raises(
        CommandError, match=r"testapp.City frame was refused.*row 1.*max_length"
    ):
        run(PlacesCommand(source), alias)
    assert not Country.objects.exists()


def test_database_refusal_becomes_a_command_error(alias: str) -> None:
    # A city in a country the import does not create: the database refuses
    # the foreign key and the countries written before are rolled back.
    command = PlacesCommand()
    original = command.get_bulks_by_model

    def orphan_city(df: pl.DataFrame) -> Any:
        bulks = original(df)
        bulks[City] = pl.DataFrame({"name": ["Nowhere"], "country_id": ["ZZ"]})
        return bulks

    command.get_bulks_by_model = orphan_city  # type: ignore[method-assign]
    with pytest.raises(CommandError, match="refused the data") as caught:
        run(command, alias)
    assert not Country.objects.exists()
    if connection_vendor(alias) == "postgresql":
        # The DETAIL line names the key that was not found.
        assert "(ZZ) is not present" in str(caught.value)


def test_second_run_leaves_out_saved_rows_and_deletes_nothing(alias: str) -> None:
    run(PlacesCommand(), alias)
    again = PlacesCommand()
    out = run(again, alias, "--delete", "--yes")
    assert again.report.created == {"testapp.Country": 0, "testapp.City": 0}
    assert again.report.already_saved == {"testapp.Country": 2, "testapp.City": 3}
    assert again.report.deleted == {}
    assert "Nothing to delete" in out
    assert cities() == EXPECTED_CITIES


def test_new_rows_among_saved_ones_are_added(alias: str) -> None:
    run(PlacesCommand(), alias)
    more = pl.concat(
        [
            import_places.SAMPLE,
            pl.DataFrame(
                {"country": ["DE"], "country_name": ["Germany"], "city": ["Bonn"]}
            ),
        ]
    )
    command = PlacesCommand(more)
    run(command, alias)
    assert command.report.created == {"testapp.Country": 0, "testapp.City": 1}
    assert cities() == sorted([("Bonn", "DE"), *EXPECTED_CITIES])


def test_delete_matches_frame_rows(alias: str) -> None:
    Country.objects.create(code="IT", name="Italy")
    command = PlacesCommand()
    out = run(command, alias, "--delete", "--yes", "--force")
    assert sorted(Country.objects.values_list("code", flat=True)) == ["DE", "FR"]
    assert command.report.deleted == {"testapp.Country": 1}
    assert "testapp.Country 1" in out


def test_delete_needs_the_match_columns_in_the_frame(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        import_places.Command, "get_delete_match_fields", lambda self: {City: ["id"]}
    )
    with pytest.raises(CommandError, match="no column for key field 'id'"):
        run(PlacesCommand(), alias, "--delete", "--yes")


def test_loader_gets_batch_size_threads_database_and_progress(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def spy(model: Any, df: pl.DataFrame, step: int, **kwargs: Any) -> int:
        calls.append({"model": model, "step": step, **kwargs})
        return bulk_create_from_frame(model, df, step, **kwargs)

    monkeypatch.setattr(imports, "bulk_create_from_frame", spy)
    run(PlacesCommand(), alias, "--batch_size=2", "--threads=1")
    assert [call["model"] for call in calls] == [Country, City]
    assert {(c["step"], c["threads"], c["using"]) for c in calls} == {(2, 1, alias)}
    assert all(isinstance(call["progress"], ChunkProgress) for call in calls)
    assert cities() == EXPECTED_CITIES
