"""Progress drawn with rich: on a terminal only, per step and per model.

A terminal is faked with a ``StringIO`` whose ``isatty()`` is true; rich then
draws into it as it would on a real one.
"""

import io
import re
import time

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import OutputWrapper

from tests.testapp.management.commands import import_library
from tests.testapp.models import Author, Book
from winidjango.src.commands._progress import ChunkProgress, ProgressDisplay

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def text(stream: io.StringIO) -> str:
    return ANSI.sub("", stream.getvalue())


def final_lines(stream: io.StringIO) -> list[str]:
    """The lines of the last drawing, as a person sees them at the end."""
    drawn = text(stream)
    last = drawn[drawn.rindex("\r") + 1 :] if "\r" in drawn else drawn
    return [line.strip() for line in last.splitlines() if line.strip()]


def run_import(*args: str, stderr: io.StringIO, **options: object) -> str:
    out = io.StringIO()
    call_command(import_library.Command(), *args, stdout=out, stderr=stderr, **options)
    return out.getvalue()


def test_every_step_and_model_has_a_line_with_rows_and_rate(alias: str) -> None:
    stderr = Terminal()
    out = run_import("--batch-size=1", database=alias, stderr=stderr)
    lines = final_lines(stderr)
    steps = [line.split()[1] for line in lines]
    assert steps == ["read", "clean", "build", "check", "write", "creating", "creating"]
    assert all(line.startswith("✓") for line in lines)
    # 3 rows read, cleaned and built into 5 objects (2 authors, 3 books).
    assert "3/3 rows" in lines[0]
    assert "3/3 rows" in lines[1]
    assert "3/3 rows" in lines[2]
    assert "5/5 rows" in lines[3]
    assert "5/5 rows" in lines[4]
    assert "creating testapp.Author" in lines[5]
    assert "2/2 rows" in lines[5]
    assert "creating testapp.Book" in lines[6]
    assert "3/3 rows" in lines[6]
    assert all("rows/s" in line for line in lines)
    assert all(re.search(r" \d+:\d\d$", line) for line in lines)
    # The report comes on stdout, after the progress lines are done.
    assert out.startswith("Import report")
    assert Book.objects.count() == 3


def test_nothing_is_drawn_off_a_terminal(alias: str) -> None:
    stderr = io.StringIO()
    run_import("--batch-size=1", database=alias, stderr=stderr)
    assert stderr.getvalue() == ""
    assert Author.objects.count() == 2


def test_nothing_is_drawn_at_verbosity_zero(alias: str) -> None:
    stderr = Terminal()
    out = run_import("--batch-size=1", database=alias, stderr=stderr, verbosity=0)
    assert (out, stderr.getvalue()) == ("", "")
    assert Author.objects.count() == 2


def test_a_step_of_unknown_size_shows_a_spinner_and_elapsed_time() -> None:
    stream = Terminal()
    display = ProgressDisplay(OutputWrapper(stream), enabled=True)
    with display.step("read") as step:
        assert display._progress is not None
        display._progress.refresh()
        running = text(stream)
        step.rows = 1200
    display.close()
    assert any(frame in running for frame in SPINNER_FRAMES)
    assert "0:00" in running
    assert "rows" not in running  # no count while the size is unknown
    assert "/" not in running.split("read", 1)[1]
    (line,) = final_lines(stream)
    assert line.startswith("✓ read")
    assert "1,200/1,200 rows" in line
    assert "rows/s" in line


def test_chunks_show_time_left_while_running() -> None:
    stream = Terminal()
    progress = ChunkProgress(OutputWrapper(stream), {Author: 4}, enabled=True)
    progress(Author, 1)
    time.sleep(0.2)
    progress(Author, 1)
    assert progress.display._progress is not None
    progress.display._progress.refresh()
    running = text(stream)
    assert "writing testapp.Author" in running
    assert "2/4 rows" in running
    assert re.search(r"\d+ rows/s", running)
    assert re.search(r"0:00, 0:0\d left", running)
    progress(Author, 2)
    progress.close()
    (line,) = final_lines(stream)
    assert "4/4 rows" in line
    assert "left" not in line
    assert progress.done == {"testapp.Author": 4}


def test_chunk_progress_counts_without_drawing() -> None:
    for stream, enabled in [(io.StringIO(), True), (Terminal(), False)]:
        calls: list[int] = []
        progress = ChunkProgress(
            OutputWrapper(stream),
            {},
            enabled=enabled,
            verb="deleting",
            on_chunk=lambda calls=calls: calls.append(1),  # type: ignore[misc]
        )
        progress(Author, 3)
        progress(Book, 1)
        progress.close()
        assert stream.getvalue() == ""
        assert progress.done == {"testapp.Author": 3, "testapp.Book": 1}
        assert len(calls) == 2
        assert not progress.drawing


def test_a_model_without_total_counts_up(alias: str) -> None:
    stream = Terminal()
    progress = ChunkProgress(OutputWrapper(stream), {}, enabled=True, verb="deleting")
    progress(Author, 3)
    progress.close()
    (line,) = final_lines(stream)
    assert "deleting testapp.Author" in line
    assert "3/3 rows" in line


@pytest.mark.django_db(transaction=True)
def test_a_question_is_asked_above_the_progress_lines(alias: str) -> None:
    Author.objects.create(name="Gone")
    stderr = Terminal()
    stdin = Terminal("y\n")
    command = import_library.Command()
    command.source = pl.DataFrame({"author": ["Ann"], "title": ["First"], "pages": [1]})
    out = io.StringIO()
    call_command(
        command,
        "--delete",
        "--force",
        database=alias,
        stdout=out,
        stderr=stderr,
        stdin=stdin,
    )
    assert "Delete 1 row (testapp.Author 1)? [y/N] " in out.getvalue()
    assert command.report.deleted == {"testapp.Author": 1}
    lines = final_lines(stderr)
    assert [line.split()[1] for line in lines][-2:] == ["delete", "deleting"]
    assert "1/1 rows" in lines[-2]
    assert "deleting testapp.Author" in lines[-1]
    assert "1/1 rows" in lines[-1]
