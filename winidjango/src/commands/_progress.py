"""Progress of a command's steps and chunks, drawn with rich on a terminal only.

A command run by a person at a terminal shows one line per step (read,
clean, build, check, write, ...) and one per model being written: rows done
(of how many, when known), rows per second, time left and time elapsed. A
step whose size is unknown until it ends (reading a file) shows a spinner
and the time elapsed, then its row count.

Progress is only useful to a person watching, so nothing is drawn when the
stream is not a terminal (a log file, a pipe, a test's ``StringIO``) or when
drawing is disabled (``--verbosity 0``): no escape codes end up in logs. The
counting itself (:attr:`ChunkProgress.done`) happens either way.

The bulk functions call ``progress(model, n)`` after each chunk they write,
in the calling thread; :class:`ChunkProgress` is such a callable.
"""

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from django.db.models import Model
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.table import Column
from rich.text import Text


def _label(model: type[Model]) -> str:
    return str(model._meta.label)


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


class _RowsColumn(ProgressColumn):
    """``1,200/5,000 rows``, or ``1,200 rows`` while the total is unknown."""

    def render(self, task: Task) -> Text:
        done = int(task.completed)
        if task.total is None:
            return Text(f"{done:,} rows" if done or task.finished else "")
        return Text(f"{done:,}/{int(task.total):,} rows")


class _RateColumn(ProgressColumn):
    """Rows per second: rich's running estimate, or the average at the end."""

    def render(self, task: Task) -> Text:
        rate = task.finished_speed
        if rate is None and task.finished_time:
            # Done in one go: rich has a single sample and no speed.
            rate = task.completed / task.finished_time
        if rate is None:
            rate = task.speed
        elapsed = task.elapsed or 0.0
        if rate is None and task.completed and elapsed > 0:
            rate = task.completed / elapsed
        return Text("" if rate is None else f"{rate:,.0f} rows/s")


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


class _TimeColumn(ProgressColumn):
    """Time elapsed, and time left while a task with a known total runs."""

    def render(self, task: Task) -> Text:
        shown = _clock(task.finished_time or task.elapsed or 0.0)
        left = task.time_remaining
        if not task.finished and task.total is not None and left is not None:
            shown += f", {_clock(left)} left"
        return Text(shown, style="progress.elapsed")


class ProgressDisplay:
    """The progress lines of one command run, on ``stream`` if it is a terminal.

    Steps (:meth:`step`) and chunked writes (:class:`ChunkProgress` with
    ``display=``) share it, so that their lines stay together. :meth:`close`
    leaves the final lines on the terminal.

    Examples:
        >>> display = ProgressDisplay(sys.stderr, enabled=True)
        >>> with display.step("read") as step:  # a spinner while it runs
        ...     df = pl.read_csv("authors.csv")
        ...     step.rows = df.height
        >>> display.close()
    """

    def __init__(
        self, stream: TextIO | Any, *, enabled: bool, no_color: bool = False
    ) -> None:
        self.drawing = enabled and _is_terminal(stream)
        self._progress: Progress | None = None
        #: The line of each description, and the rows it had when it was
        #: last (re)opened: a line added again counts on from there.
        self._lines: dict[str, TaskID] = {}
        self._base: dict[TaskID, int] = {}
        if not self.drawing:
            return
        # Django's OutputWrapper ends every write with a newline; rich needs
        # the stream underneath.
        out = getattr(stream, "_out", stream)
        console = Console(
            file=out, force_terminal=True, highlight=False, no_color=no_color
        )
        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            # The bar takes what the numbers leave of the terminal's width.
            BarColumn(bar_width=None),
            _RowsColumn(table_column=Column(no_wrap=True)),
            _RateColumn(table_column=Column(no_wrap=True)),
            _TimeColumn(table_column=Column(no_wrap=True)),
            console=console,
            # Stopped for other output (see paused()), the lines are erased
            # and drawn again below it; close() keeps them.
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
            expand=True,
        )
        self._progress.start()

    def add(
        self, description: str, total: int | None, *, since: float | None = None
    ) -> TaskID | None:
        """Add a line; ``None`` when nothing is drawn.

        ``since`` (a :func:`time.monotonic` time) says when the work of the
        line began, if that was before now.

        Examples:
            >>> task = display.add("creating testapp.Author", 1000)
        """
        if self._progress is None:
            return None
        again = self._lines.get(description)
        if again is not None:
            return self._reopen(again, total)
        task = self._progress.add_task(description, total=total)
        if since is not None:
            self._progress.tasks[self._index(task)].start_time = since
        self._lines[description] = task
        self._base[task] = 0
        return task

    def _reopen(self, task_id: TaskID, total: int | None) -> TaskID:
        """Count on a line that was added before, for ``total`` more rows.

        A batched import runs its steps once per batch: each step keeps one
        line that adds up the batches, instead of one line per batch.
        """
        assert self._progress is not None
        task = self._progress.tasks[self._index(task_id)]
        base = int(task.completed)
        self._base[task_id] = base
        task.finished_time = None
        task.finished_speed = None
        task.stop_time = None
        self._progress.update(task_id, total=None if total is None else base + total)
        return task_id

    def advance(self, task: TaskID | None, rows: int) -> None:
        """Count ``rows`` more rows on a line.

        Examples:
            >>> display.advance(task, 100)
        """
        if self._progress is not None and task is not None:
            self._progress.advance(task, rows)

    def finish(self, task: TaskID | None, rows: int | None = None) -> None:
        """Mark a line done, with its final row count if one is given.

        Examples:
            >>> display.finish(task, rows=1000)
        """
        if self._progress is None or task is None:
            return
        if rows is not None:
            done = self._base.get(task, 0) + rows
            self._progress.update(task, total=done, completed=done)
        else:
            current = self._progress.tasks[self._index(task)]
            self._progress.update(task, total=current.total or current.completed)
        self._progress.stop_task(task)

    @contextmanager
    def step(self, name: str, total: int | None = None) -> Iterator["StepProgress"]:
        """Show step ``name`` while the block runs; set ``.rows`` on the way.

        With ``total`` (rows going in) the line shows the count to reach;
        without, a spinner and the time elapsed until the step ends.

        Examples:
            >>> with display.step("clean", total=raw.height) as step:
            ...     cleaned = clean(raw)
            ...     step.rows = raw.height
        """
        step = StepProgress(self, self.add(name, total))
        try:
            yield step
        finally:
            self.finish(step.task, step.rows)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Take the lines off the terminal while the block writes something else.

        The block's output (a message, a question) then stands above the
        progress lines, which are drawn again when it ends.

        Examples:
            >>> with display.paused():
            ...     answer = input("Delete 3 rows? [y/N] ")
        """
        if self._progress is None:
            yield
            return
        self._progress.stop()
        try:
            yield
        finally:
            self._progress.start()

    def close(self) -> None:
        """Stop drawing; the last state of every line stays on the terminal.

        Examples:
            >>> display.close()
        """
        if self._progress is not None:
            self._progress.live.transient = False
            self._progress.stop()
            self._progress = None

    def _index(self, task: TaskID) -> int:
        assert self._progress is not None
        return next(i for i, t in enumerate(self._progress.tasks) if t.id == task)


class StepProgress:
    """The line of one step: set :attr:`rows` to the rows the step handled.

    Examples:
        >>> with display.step("read") as step:
        ...     step.rows = 1200
    """

    def __init__(self, display: ProgressDisplay, task: TaskID | None) -> None:
        self.display = display
        self.task = task
        self.rows: int | None = None

    def advance(self, rows: int) -> None:
        """Count ``rows`` more rows, for a step that can say how far it is."""
        self.display.advance(self.task, rows)


class ChunkProgress:
    """Count written objects per model and show one progress line per model.

    ``totals`` gives the number of objects expected per model; a model that
    is not in it still counts, its line just has no total to reach.
    ``on_chunk`` is called after every chunk, drawn or not (the command uses
    it to check its time limit). With ``display``, the lines go into that
    shared display (and stay there after :meth:`close`); without, this
    object draws its own on ``stream``.

    Examples:
        >>> import io
        >>> stream = OutputWrapper(io.StringIO())
        >>> progress = ChunkProgress(stream, {Author: 2}, enabled=True)
        >>> progress(Author, 2)
        >>> progress.done
        {'testapp.Author': 2}
    """

    def __init__(
        self,
        stream: TextIO | Any,
        totals: Mapping[type[Model], int],
        *,
        enabled: bool,
        verb: str = "writing",
        on_chunk: Callable[[], None] | None = None,
        display: ProgressDisplay | None = None,
    ) -> None:
        self.totals = {_label(model): total for model, total in totals.items()}
        self.done: dict[str, int] = {}
        self.verb = verb
        self.on_chunk = on_chunk
        self._owns_display = display is None
        if display is None:
            display = ProgressDisplay(stream, enabled=enabled)
        self.display = display
        self.drawing = enabled and display.drawing
        self._tasks: dict[str, TaskID | None] = {}
        self._since = time.monotonic()

    def __call__(self, model: type[Model], count: int) -> None:
        """Record that ``count`` more objects of ``model`` were written."""
        label = _label(model)
        self.done[label] = self.done.get(label, 0) + count
        if self.drawing:
            self._draw(label, count)
        if self.on_chunk is not None:
            self.on_chunk()

    def _draw(self, label: str, count: int) -> None:
        if label not in self._tasks:
            # Models are written one after the other, parents first: the
            # first chunk of this one ends the previous one, whose last chunk
            # is when this one began.
            for done_label, task in self._tasks.items():
                self.display.finish(task, self.done[done_label])
            total = self.totals.get(label)
            description = f"{self.verb} {label}"
            self._tasks[label] = self.display.add(description, total, since=self._since)
        self.display.advance(self._tasks[label], count)
        self._since = time.monotonic()

    def close(self) -> None:
        """Mark every line done; stop drawing if the display is this object's."""
        for label, task in self._tasks.items():
            self.display.finish(task, self.done[label])
        self._tasks = {}
        if self._owns_display:
            self.display.close()
