"""Importing CSV text into Date, Datetime, Time and Boolean columns.

Polars 2 no longer casts text to temporal types (nor ever did to Boolean),
so ``ImportDataBaseCommand`` parses such columns before the cleaning class
runs. The command under test, ``import_samples``, reads every CSV column as
text.
"""

import datetime
import io
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.testapp.management.commands import import_samples
from tests.testapp.models import Sample
from winidjango.src.commands._checks import check_column_types

UTC = datetime.UTC


class SamplesCommand(import_samples.Command):
    def __init__(self, csv_text: str | None = None, *, as_objects: bool) -> None:
        super().__init__()
        if csv_text is not None:
            self.csv_text = csv_text
        self.as_objects = as_objects


def run(command: SamplesCommand, alias: str) -> str:
    out = io.StringIO()
    call_command(command, database=alias, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.parametrize("as_objects", [False, True], ids=["frame", "objects"])
def test_csv_text_is_parsed_into_its_declared_types(
    alias: str, as_objects: bool
) -> None:
    run(SamplesCommand(as_objects=as_objects), alias)
    stored = list(
        Sample.objects.order_by("name").values_list(
            "name", "flag", "day", "moment", "clock"
        )
    )
    assert stored == [
        (
            "a",
            True,
            datetime.date(2020, 1, 2),
            datetime.datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            datetime.time(3, 4, 5, 123456),
        ),
        (
            "b",
            False,
            datetime.date(1999, 12, 31),
            datetime.datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
            datetime.time(23, 59),
        ),
        (
            "c",
            True,
            datetime.date(1, 1, 1),
            datetime.datetime(2000, 2, 29, tzinfo=UTC),
            datetime.time(0, 0),
        ),
        ("d", None, None, None, None),
    ]


@pytest.mark.parametrize(
    ("column", "bad", "expected"),
    [
        ("day", "2020-02-30", "YYYY-MM-DD"),
        ("day", "02/01/2020", "YYYY-MM-DD"),
        ("moment", "2020-01-02 25:00", "YYYY-MM-DD HH:MM"),
        ("moment", "2020-01-02T03:04:05+01:00", "YYYY-MM-DD HH:MM"),
        ("clock", "3pm", "HH:MM"),
        ("flag", "maybe", "true/false"),
    ],
)
def test_a_value_that_does_not_parse_is_refused_before_any_write(
    alias: str, column: str, bad: str, expected: str
) -> None:
    frame = pl.read_csv(io.StringIO(import_samples.CSV_TEXT), infer_schema=False)
    frame = frame.with_columns(
        pl.when(pl.col("name") == "b")
        .then(pl.lit(bad))
        .otherwise(pl.col(column))
        .alias(column)
    )
    text = io.StringIO()
    frame.write_csv(text)
    with pytest.raises(CommandError) as caught:
        run(SamplesCommand(text.getvalue(), as_objects=False), alias)
    message = str(caught.value)
    assert f"Column {column!r}, row 2: {bad!r} is not a valid" in message
    assert expected in message
    assert not Sample.objects.exists()


class _ZonedCleaningDF(import_samples.SamplesCleaningDF):
    @classmethod
    def get_col_dtype_map(cls) -> dict[str, Any]:
        return {"moment": pl.Datetime("ms", "Europe/Paris")}


def test_a_declared_time_zone_takes_naive_text_and_offsets() -> None:
    raw = pl.DataFrame(
        {
            "moment": [
                "2020-01-02 03:04",
                "2020-01-02T03:04:00+00:00",
                "2020-01-02 03:04Z",
            ]
        }
    )
    parsed = check_column_types(raw, _ZonedCleaningDF).get_column("moment")
    assert parsed.dtype == pl.Datetime("ms", "Europe/Paris")
    paris = datetime.timezone(datetime.timedelta(hours=1))
    assert [value.astimezone(paris) for value in parsed.to_list()] == [
        datetime.datetime(2020, 1, 2, 3, 4, tzinfo=paris),
        datetime.datetime(2020, 1, 2, 4, 4, tzinfo=paris),
        datetime.datetime(2020, 1, 2, 4, 4, tzinfo=paris),
    ]


def test_a_local_time_daylight_saving_makes_ambiguous_is_refused() -> None:
    raw = pl.DataFrame({"moment": ["2020-10-25 01:30", "2020-10-25 02:30"]})
    with pytest.raises(CommandError, match=r"Column 'moment', row 2: '2020-10-25"):
        check_column_types(raw, _ZonedCleaningDF)


def test_columns_already_of_their_type_and_other_casts_are_unchanged() -> None:
    raw = pl.DataFrame({"day": [datetime.date(2020, 1, 1)], "flag": [True]})

    class Cleaning(import_samples.SamplesCleaningDF):
        @classmethod
        def get_col_dtype_map(cls) -> dict[str, Any]:
            return {"day": pl.Date, "flag": pl.Boolean}

    assert check_column_types(raw, Cleaning).equals(raw)
