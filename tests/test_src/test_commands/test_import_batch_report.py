"""The import report over batches, and the source row of a refused frame row.

On every backend, with the ``import_scores`` command of tests/testapp.
"""

from pathlib import Path

import pytest
from django.core.management.base import CommandError

from tests.test_src.test_commands.test_import_rejects import _csv, _labels, _run
from tests.testapp.management.commands.import_scores import Command, KeyedCommand
from tests.testapp.models import Score

pytestmark = pytest.mark.django_db(transaction=True)


def test_report_counts_add_up_over_batches(alias: str, tmp_path: Path) -> None:
    lines = [f"s{i:02d},{i},,A,1" for i in range(1, 26)]
    lines[13] = "s14,-1,,A,1"  # refused by the database, in the third batch
    feed = _csv(tmp_path, lines)
    rejects = tmp_path / "rejects.csv"
    command = _run(Command(), feed, alias, "--lazy", batch_size=6, rejects=str(rejects))
    assert command.report.batches == 5
    assert Score.objects.count() == 24
    # Every batch's rows, not the last batch's; the refused row is neither
    # created nor "already saved".
    assert command.report.created == {"testapp.Score": 24}
    assert command.report.already_saved == {"testapp.Score": 0}


def test_sync_report_counts_add_up_over_batches(alias: str, tmp_path: Path) -> None:
    feed = _csv(tmp_path, [f"s{i},{i},,A,1" for i in range(1, 8)])
    first = _run(KeyedCommand(), feed, alias, "--lazy", batch_size=3)
    assert first.report.batches == 3
    assert first.report.created == {"testapp.Score": 7}
    feed = _csv(tmp_path, [f"s{i},{i * (i % 2 + 1)},,A,1" for i in range(1, 8)])
    second = _run(KeyedCommand(), feed, alias, "--lazy", batch_size=3)
    assert second.report.created == {"testapp.Score": 0}
    assert second.report.updated == {"testapp.Score": 4}  # s1, s3, s5, s7
    assert second.report.unchanged == {"testapp.Score": 3}
    assert sorted(Score.objects.values_list("points", flat=True)) == [
        2,
        2,
        4,
        6,
        6,
        10,
        14,
    ]


def test_refused_frame_row_names_the_source_row(alias: str, tmp_path: Path) -> None:
    # The cleaning sorts by label, descending: the frame's row 2 is the
    # file's row 1.
    feed = _csv(tmp_path, ["a,2,,Z,1", "b,1,,A,1"])
    with pytest.raises(
        CommandError,
        match=r"row 2.*'Z'.*\(row 2 of the frame is row 1 of the data handle_import",
    ):
        _run(Command(), feed, alias)
    assert _labels() == []
