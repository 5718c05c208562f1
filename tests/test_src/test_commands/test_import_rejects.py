"""Bad rows set aside, sources in batches, and resumed imports, on every backend.

The import is ``import_scores`` (tests/testapp): a CSV of scores whose rows
break in every way a daily feed does. Each test asserts on the rows in the
database and on the lines of the reject file.
"""

import csv
import io
import signal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.test_src.test_commands.test_transactions import _manage, _test_database
from tests.testapp.management.commands.import_scores import Command, KeyedCommand
from tests.testapp.models import Author, Score

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "Label,Points,Author,Grade,Rank"


def _csv(tmp_path: Path, lines: list[str], name: str = "scores.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _run(command: Any, path: Path, alias: str, *args: str, **options: Any) -> Any:
    call_command(
        command,
        str(path),
        *args,
        database=alias,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        **options,
    )
    return command


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _labels() -> list[str]:
    return sorted(Score.objects.values_list("label", flat=True))


def _bad_feed(tmp_path: Path, author: int) -> Path:
    return _csv(
        tmp_path,
        [
            f"a,1,{author},A,1",  # 1 good
            ",2,,A,1",  # 2 no label: dropped by the cleaning
            "b,abc,,A,1",  # 3 points not a number
            f"{'x' * 21},3,,A,1",  # 4 label over max_length
            "c,4,,Z,1",  # 5 grade not a choice
            "d,5,,A,99999",  # 6 rank outside a small integer
            "a,6,,A,1",  # 7 label repeats row 1
            "taken,7,,A,1",  # 8 label already in the table
            f"e,8,{author + 1000},A,1",  # 9 author that does not exist
            "f,-9,,A,1",  # 10 points refused by the check constraint
            "g,10,,B,2",  # 11 good
            "h,,,A,1",  # 12 no points: required by the cleaning
        ],
    )


@pytest.mark.parametrize("objects", [False, True], ids=["frame", "objects"])
def test_every_kind_of_bad_row_is_set_aside(
    alias: str, tmp_path: Path, objects: bool
) -> None:
    ann = Author.objects.create(name="Ann")
    Score.objects.create(label="taken", points=0)
    feed = _bad_feed(tmp_path, ann.pk)
    rejects = tmp_path / "rejects.csv"
    extra = ("--objects",) if objects else ()
    command = _run(Command(), feed, alias, *extra, rejects=str(rejects))

    # SQLite has no range for a small integer (as Django's own validation
    # says there): 99999 is kept there and refused by the others.
    sqlite = alias == "default"
    assert _labels() == (["a", "d", "g", "taken"] if sqlite else ["a", "g", "taken"])
    lines = _rejects(rejects)
    assert list(lines[0]) == [
        "row",
        "model",
        "column",
        "reason",
        "Label",
        "Points",
        "Author",
        "Grade",
        "Rank",
    ]
    by_row = {int(line["row"]): line for line in lines}
    # With objects the repeated label (row 7) is refused by the database
    # rather than by the frame check: the same row either way.
    expected = [2, 3, 4, 5, 6, 7, 8, 9, 10, 12]
    assert sorted(by_row) == [row for row in expected if not (sqlite and row == 6)]
    assert by_row[2]["reason"].startswith("null in label (get_drop_null_subsets)")
    assert by_row[2]["model"] == "ScoreCleaningDF"
    assert by_row[3]["column"] == "Points"
    assert "is not a valid Int64" in by_row[3]["reason"]
    assert by_row[3]["Points"] == "abc"
    assert (
        "max_length=20" in by_row[4]["reason"] or "more than 20" in by_row[4]["reason"]
    )
    assert "choice" in by_row[5]["reason"]
    if not sqlite:
        assert by_row[6]["Rank"] == "99999"
    assert by_row[7]["Label"] == "a"
    assert by_row[8]["Label"] == "taken"
    assert "points to no Author row" in by_row[9]["reason"]
    assert by_row[9]["column"] == "author"
    assert by_row[10]["Points"] == "-9"
    assert "get_no_null_cols" in by_row[12]["reason"]
    for row in (4, 5, 7, 8, 9, 10):
        assert by_row[row]["model"] == "testapp.Score", by_row[row]
    report = command.report
    assert report.rows_read == 12
    assert report.created == {"testapp.Score": 3 if sqlite else 2}
    assert report.dropped == {
        "null in label (get_drop_null_subsets)": 1,
        "null in points (get_no_null_cols)": 1,
    }
    assert sum(report.rejected["testapp.Score"].values()) == (6 if sqlite else 7)
    assert report.rejected["ScoreCleaningDF"] == {"is not a valid Int64": 1}


def test_without_rejects_the_first_bad_row_stops_everything(
    alias: str, tmp_path: Path
) -> None:
    feed = _csv(tmp_path, ["a,1,,A,1", "b,2,,Z,1", "c,3,,A,1"])
    with pytest.raises(CommandError, match=r"row 2.*'Z'.*choices"):
        _run(Command(), feed, alias)
    assert _labels() == []


def test_max_rejects_stops_and_writes_nothing(alias: str, tmp_path: Path) -> None:
    feed = _csv(tmp_path, ["a,1,,A,1", "b,-1,,A,1", "c,-2,,A,1", "d,4,,A,1"])
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(CommandError, match="more than --max-rejects 1"):
        _run(Command(), feed, alias, rejects=str(rejects), max_rejects="1")
    assert _labels() == []
    # The reject file still says why.
    assert [line["row"] for line in _rejects(rejects)] == ["2", "3"]
    with pytest.raises(CommandError, match="more than --max-rejects 25%"):
        _run(Command(), feed, alias, rejects=str(rejects), max_rejects="25%")
    assert _labels() == []
    _run(Command(), feed, alias, rejects=str(rejects), max_rejects="50%")
    assert _labels() == ["a", "d"]


def test_a_lazy_source_is_imported_in_batches_once(alias: str, tmp_path: Path) -> None:
    lines = [f"s{i},{i},,A,1" for i in range(1, 26)]
    lines[13] = "s14,-1,,A,1"  # refused by the database, in the third batch
    feed = _csv(tmp_path, lines)
    rejects = tmp_path / "rejects.csv"
    command = _run(Command(), feed, alias, "--lazy", batch_size=6, rejects=str(rejects))
    assert command.report.batches == 5
    assert command.report.rows_read == 25
    assert Score.objects.count() == 24
    assert sorted(Score.objects.values_list("points", flat=True)) == [
        i for i in range(1, 26) if i != 14
    ]
    assert [line["row"] for line in _rejects(rejects)] == ["14"]


def test_a_key_repeated_across_batches_is_caught(alias: str, tmp_path: Path) -> None:
    feed = _csv(tmp_path, ["a,1,,A,1", "b,2,,A,1", "c,3,,A,1", "a,4,,A,1"])
    with pytest.raises(CommandError, match=r"row 4: key 'a' repeats"):
        _run(KeyedCommand(), feed, alias, "--lazy", batch_size=2)
    assert _labels() == []
    rejects = tmp_path / "rejects.csv"
    _run(KeyedCommand(), feed, alias, "--lazy", batch_size=2, rejects=str(rejects))
    assert _labels() == ["a", "b", "c"]
    assert Score.objects.get(label="a").points == 1
    assert [(line["row"], line["Points"]) for line in _rejects(rejects)] == [("4", "4")]


def test_commit_every_then_resume_after_kill_9(alias: str, tmp_path: Path) -> None:
    feed = _csv(tmp_path, [f"s{i},{i},,A,1" for i in range(1, 11)])
    process = _manage(
        _test_database(alias),
        "import_scores",
        str(feed),
        "--commit-every",
        "3",
        "--sleep-after",
        "6",
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith("SLEEPING"):
                break
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    # Two batches of three were committed before the kill.
    assert Score.objects.count() == 6
    command = _run(Command(), feed, alias, commit_every=3, resume=True)
    assert command.report.batches == 4
    assert command.report.batches_skipped == 2
    assert sorted(Score.objects.values_list("points", flat=True)) == list(range(1, 11))
    # A complete run clears the ledger: the next run starts afresh.
    with pytest.raises(CommandError):
        _run(Command(), feed, alias, commit_every=3, resume=True)  # unique labels
    assert Score.objects.count() == 10


def test_option_checks(alias: str, tmp_path: Path) -> None:
    feed = _csv(tmp_path, ["a,1,,A,1"])
    with pytest.raises(CommandError, match="--resume needs --commit-every"):
        _run(Command(), feed, alias, resume=True)
    with pytest.raises(CommandError, match="--max-rejects needs --rejects"):
        _run(Command(), feed, alias, max_rejects="1")


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_an_interrupted_import_writes_nothing(
    alias: str, tmp_path: Path, signum: int, code: int
) -> None:
    # Batches of 3 in one transaction: the first batch is written, the
    # second sleeps in its build; the signal must roll the first one back.
    feed = _csv(tmp_path, [f"s{i},{i},,A,1" for i in range(1, 11)])
    process = _manage(
        _test_database(alias),
        "import_scores",
        str(feed),
        "--lazy",
        "--batch-size",
        "3",
        "--sleep-after",
        "3",
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith("SLEEPING"):
                break
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, err
    assert err.strip().splitlines()[-1] == (
        "Interrupted: rolled back, nothing was written."
    )
    assert "Traceback" not in err
    assert Score.objects.count() == 0
