"""Signals that stop a command: its time limit, Ctrl-C and ``SIGTERM``.

:class:`Deadline` is the time limit. In the main thread of a platform with
``signal.setitimer`` (Linux, macOS), an alarm interrupts the command wherever
it is, even inside code that never checks the clock. Elsewhere (Windows, or a
command started from a worker thread, where Python refuses to install signal
handlers) the limit is only enforced at :meth:`Deadline.check` calls, which
winidjango makes between import steps and after every chunk written. Either
way, Python runs the check between bytecodes, so a single long SQL statement
finishes before the command stops.

:class:`Interrupts` turns ``SIGINT`` (Ctrl-C) and ``SIGTERM`` (``kill``,
a container or service manager stopping the process) into a
:class:`CommandInterrupted` exception in the main thread, so that the
command's transaction is rolled back on the way out, as it is for any error.
Without it ``SIGTERM`` would end the process on the spot: the database then
rolls back the open transaction when the connection drops, but the command
has no chance to say so.
"""

import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any, Self


class CommandTimeout(BaseException):
    """The command ran past its ``--timeout``.

    It derives from ``BaseException``, like ``KeyboardInterrupt``, so that an
    ``except Exception`` in a command or in a library it calls cannot swallow
    it and carry on writing after the limit.

    Examples:
        >>> isinstance(CommandTimeout(), Exception)
        False
    """


def _can_use_alarm() -> bool:
    return hasattr(signal, "setitimer") and (
        threading.current_thread() is threading.main_thread()
    )


class Deadline:
    """Raise :class:`CommandTimeout` once ``seconds`` have passed inside the block.

    ``seconds=None`` makes it a no-op. On leaving the block the alarm is
    disarmed before anything else happens, so a commit that follows the block
    can never be interrupted halfway. A signal handler and interval timer that
    were installed before (for example by ``pytest-timeout``) are put back.

    Examples:
        >>> with Deadline(None) as deadline:
        ...     deadline.check()  # never raises without a limit
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._started = 0.0
        self._armed = False
        self._previous_handler: Any = None
        self._previous_timer = (0.0, 0.0)
        self._uses_alarm = False

    def __enter__(self) -> Self:
        self._started = time.monotonic()
        if self.seconds is None:
            return self
        self._armed = True
        if _can_use_alarm():
            self._uses_alarm = True
            self._previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
            self._previous_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # First stop raising, then stop the timer: an alarm already on its way
        # finds the deadline disarmed and does nothing.
        self._armed = False
        if not self._uses_alarm:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        previous = self._previous_handler
        # None means the old handler was not installed from Python; the
        # closest thing we can restore is the default action.
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        delay, interval = self._previous_timer
        if delay > 0:
            elapsed = time.monotonic() - self._started
            # A timer that would have fired meanwhile fires right away instead.
            signal.setitimer(signal.ITIMER_REAL, max(delay - elapsed, 1e-6), interval)
        self._uses_alarm = False

    @property
    def elapsed(self) -> float:
        """Seconds since the block was entered."""
        return time.monotonic() - self._started

    def check(self) -> None:
        """Raise :class:`CommandTimeout` if the limit has passed.

        This is what enforces the limit where no alarm can be used; with an
        alarm it merely catches the expiry a moment earlier.
        """
        if self._armed and self.seconds is not None and self.elapsed >= self.seconds:
            self._armed = False
            raise CommandTimeout(self.seconds)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:
            self._armed = False
            raise CommandTimeout(self.seconds)


class CommandInterrupted(KeyboardInterrupt):
    """The command got ``SIGINT`` or ``SIGTERM`` while it ran.

    A ``KeyboardInterrupt``, so that code which already cleans up after
    Ctrl-C does the same after ``SIGTERM``; like it, no ``except Exception``
    catches it.

    Examples:
        >>> CommandInterrupted(signal.SIGTERM).exit_code
        143
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's exit status for a process stopped by this signal."""
        return 128 + self.signum


def exit_code_of(interrupt: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (or a ``KeyboardInterrupt`` raised otherwise), 143 for TERM.

    Examples:
        >>> exit_code_of(KeyboardInterrupt())
        130
    """
    if isinstance(interrupt, CommandInterrupted):
        return interrupt.exit_code
    return 128 + signal.SIGINT


class Interrupts:
    """Raise :class:`CommandInterrupted` on ``SIGINT``/``SIGTERM`` while armed.

    Entering the block installs the handlers (main thread only: elsewhere
    Python refuses them, and Ctrl-C reaches the main thread anyway);
    leaving it puts back the handlers that were there before. A signal that
    was ignored before (``SIG_IGN``, e.g. Ctrl-C for a job started in the
    background) stays ignored.

    Only while :attr:`armed` is true does a signal raise. The command
    disarms it before its transaction commits and while it rolls back: a
    signal then is remembered in :attr:`pending` instead, so that a commit
    or a rollback is never cut in half.

    Examples:
        >>> with Interrupts() as interrupts:
        ...     interrupts.armed = True
        ...     interrupts.armed = False
        >>> interrupts.pending is None
        True
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.armed = False
        self.pending: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Self:
        self.pending = None
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in self.SIGNALS:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN:
                continue
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.armed = False
        for signum, previous in self._previous.items():
            # None: the old handler was not installed from Python.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.armed:
            self.pending = signum
            return
        # Disarmed at once: a second Ctrl-C must not cut the rollback short.
        self.armed = False
        raise CommandInterrupted(signum)
