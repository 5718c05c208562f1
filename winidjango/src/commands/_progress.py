"""A per-model progress bar for long bulk loads, drawn on a terminal only.

The bulk functions call ``progress(model, n)`` after each chunk they write, in
the calling thread; :class:`ChunkProgress` is such a callable. A bar is only
useful to a person watching, so it draws nothing when its stream is not a
terminal (a log file, a pipe, a test's ``StringIO``) or when it is disabled
(``--verbosity 0``): no carriage returns end up in logs.
"""

from collections.abc import Callable, Mapping

from django.core.management.base import OutputWrapper
from django.db.models import Model

_BAR_WIDTH = 30


def _label(model: type[Model]) -> str:
    return str(model._meta.label)


class ChunkProgress:
    """Count written objects per model and redraw that model's bar on ``stream``.

    ``totals`` gives the number of objects expected per model; a model that
    is not in it still counts, it just has no bar length to fill. ``on_chunk``
    is called after every chunk, drawn or not (the command uses it to check
    its time limit).

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
        stream: OutputWrapper,
        totals: Mapping[type[Model], int],
        *,
        enabled: bool,
        verb: str = "writing",
        on_chunk: Callable[[], None] | None = None,
    ) -> None:
        self.stream = stream
        self.totals = {_label(model): total for model, total in totals.items()}
        self.done: dict[str, int] = {}
        self.verb = verb
        self.on_chunk = on_chunk
        self.drawing = enabled and stream.isatty()
        self._open_line: str | None = None

    def __call__(self, model: type[Model], count: int) -> None:
        """Record that ``count`` more objects of ``model`` were written."""
        label = _label(model)
        self.done[label] = self.done.get(label, 0) + count
        if self.drawing:
            self._draw(label)
        if self.on_chunk is not None:
            self.on_chunk()

    def close(self) -> None:
        """End the bar's line, so that later output starts on a fresh one."""
        if self._open_line is not None:
            self._write("\n")
            self._open_line = None

    def _draw(self, label: str) -> None:
        if self._open_line not in (None, label):
            self._write("\n")
        self._open_line = label
        done = self.done[label]
        total = self.totals.get(label, 0)
        if total > 0:
            filled = min(_BAR_WIDTH, _BAR_WIDTH * done // total)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            line = f"\r{self.verb} {label} [{bar}] {done}/{total}"
        else:
            line = f"\r{self.verb} {label} {done}"
        self._write(line)

    def _write(self, text: str) -> None:
        # OutputWrapper appends a newline and colours a terminal's stderr red
        # by default; a bar needs neither.
        self.stream.write(text, style_func=_unstyled, ending="")
        self.stream.flush()


def _unstyled(text: str) -> str:
    return text
