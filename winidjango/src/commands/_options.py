"""The options every winidjango command accepts, their parsing and their checks.

The same value can reach a command two ways: as text on the command line,
where argparse converts it with the ``type=`` functions below, or as a Python
value passed to ``call_command(..., batch_size=-5)``, which Django hands to the
command without running those functions. :func:`read_common_options` therefore
checks the final values again, so both ways refuse the same bad input.
"""

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.management.base import CommandError

DEFAULT_BATCH_SIZE = 1000


def positive_int(text: str) -> int:
    """Parse a whole number >= 1 for argparse, or explain why it is not one.

    Examples:
        >>> positive_int("500")
        500
    """
    try:
        value = int(text)
    except ValueError:
        message = f"must be a whole number >= 1, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if value < 1:
        message = f"must be a whole number >= 1, got {value}"
        raise argparse.ArgumentTypeError(message)
    return value


def positive_float(text: str) -> float:
    """Parse a number of seconds > 0 for argparse, or explain why it is not one.

    Examples:
        >>> positive_float("2.5")
        2.5
    """
    try:
        value = float(text)
    except ValueError:
        message = f"must be a number of seconds > 0, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    # ``not value > 0`` also refuses NaN, which compares false with everything.
    if not value > 0 or value == float("inf"):
        message = f"must be a number of seconds > 0, got {text}"
        raise argparse.ArgumentTypeError(message)
    return value


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options shared by all winidjango commands on ``parser``.

    Each option is accepted as Django spells its own options (``--dry-run``,
    shown first in ``--help``) and as the winidjango README spells it
    (``--dry_run``); both store into the same destination.

    Examples:
        >>> parser = argparse.ArgumentParser()
        >>> add_common_arguments(parser)
        >>> parser.parse_args(["--batch-size", "50"]).batch_size
        50
    """
    group = parser.add_argument_group("options common to winidjango commands")
    group.add_argument(
        "--dry-run",
        "--dry_run",
        dest="dry_run",
        action="store_true",
        help=(
            "Run for real inside a transaction on every database the command "
            "uses, roll it back at the end and report what would have been "
            "written; statements a rollback cannot undo are refused."
        ),
    )
    group.add_argument(
        "--force",
        action="store_true",
        help="Let the command go ahead where it would otherwise hold back.",
    )
    group.add_argument(
        "--delete",
        action="store_true",
        help="Allow the command's deletion step (import commands: remove stale rows).",
    )
    group.add_argument(
        "--yes",
        action="store_true",
        help="Answer yes to every confirmation question instead of asking.",
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help=(
            "Stop with an error after this many seconds and roll back the "
            "command's transaction, if it has one."
        ),
    )
    group.add_argument(
        "--batch-size",
        "--batch_size",
        dest="batch_size",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"Objects written per bulk query (default: {DEFAULT_BATCH_SIZE}).",
    )
    group.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help="Worker threads for bulk operations (default: the bulk layer's choice).",
    )
    group.add_argument(
        "--processes",
        type=positive_int,
        default=None,
        metavar="N",
        help=(
            "Worker processes for a CPU-bound stage of the command, if it has "
            "one (default: one per CPU). Import commands clean and build in N "
            "processes only when N is 2 or more (default: one process). "
            "Measured on the flights demo it buys nothing: reading to "
            "checking took 3.3 s in 1 process and 16.2 s in 2 with frames, "
            "18.3 s and 77.0 s with --objects (see docs/performance.md)."
        ),
    )
    group.add_argument(
        "--database",
        default=None,
        metavar="ALIAS",
        help=(
            "Database alias to write to and to run the command's transaction on "
            "(default: the database router's choice, and 'default')."
        ),
    )


@dataclass(frozen=True, slots=True)
class CommonOptions:
    """The common options of one run, checked and typed.

    Examples:
        >>> read_common_options({"batch_size": 10}).batch_size
        10
    """

    dry_run: bool = False
    force: bool = False
    delete: bool = False
    yes: bool = False
    timeout: float | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    threads: int | None = None
    processes: int | None = None
    database: str | None = None


def _check_count(name: str, value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    # bool is an int subclass, but ``--threads True`` is a mistake, not 1 thread.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        message = f"--{name} must be a whole number >= 1, got {value!r}"
        raise CommandError(message)


def _check_timeout(value: Any) -> None:
    if value is None:
        return
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not 0 < value < float("inf"):
        message = f"--timeout must be a number of seconds > 0, got {value!r}"
        raise CommandError(message)


def read_common_options(options: Mapping[str, Any]) -> CommonOptions:
    """Return the common options found in ``options``, refusing bad values.

    Missing keys take their defaults, so a command can be run with
    ``call_command`` on a parser that was built without them.

    Examples:
        >>> read_common_options({"dry_run": True, "threads": 4}).threads
        4
    """
    defaults = CommonOptions()
    values = {
        name: options.get(name, getattr(defaults, name))
        for name in CommonOptions.__dataclass_fields__
    }
    if values["batch_size"] is None:
        values["batch_size"] = DEFAULT_BATCH_SIZE
    _check_count("batch_size", values["batch_size"], optional=False)
    _check_count("threads", values["threads"], optional=True)
    _check_count("processes", values["processes"], optional=True)
    _check_timeout(values["timeout"])
    database = values["database"]
    if database is not None and not isinstance(database, str):
        message = f"--database must be a database alias, got {database!r}"
        raise CommandError(message)
    for flag in ("dry_run", "force", "delete", "yes"):
        values[flag] = bool(values[flag])
    return CommonOptions(**values)


class CommonOptionsMixin:
    """Typed, read-only access to the common options of the running command.

    These properties live in a plain class on purpose: winiutils'
    ``ABCLoggingMeta`` wraps every callable attribute that has a non-dunder
    ``__name__``, and since Python 3.13 ``property`` objects have one, so a
    property defined in a class built by that metaclass would turn into a
    plain method. Classes built by ``type`` are left alone.

    Examples:
        >>> class Probe(CommonOptionsMixin):
        ...     pass
        >>> probe = Probe()
        >>> probe.common_options = read_common_options({"yes": True})
        >>> probe.yes
        True
    """

    common_options: CommonOptions = CommonOptions()

    @property
    def dry_run(self) -> bool:
        """Whether this run's database writes are rolled back at the end."""
        return self.common_options.dry_run

    @property
    def force(self) -> bool:
        """Whether ``--force`` was given; its meaning is the subclass's."""
        return self.common_options.force

    @property
    def delete(self) -> bool:
        """Whether ``--delete`` was given, allowing the deletion step."""
        return self.common_options.delete

    @property
    def yes(self) -> bool:
        """Whether confirmations are answered yes without asking."""
        return self.common_options.yes

    @property
    def timeout(self) -> float | None:
        """Seconds after which the command stops, or ``None`` for no limit."""
        return self.common_options.timeout

    @property
    def batch_size(self) -> int:
        """The ``step`` to pass to bulk calls: objects per query."""
        return self.common_options.batch_size

    @property
    def threads(self) -> int | None:
        """The ``threads`` to pass to bulk calls; ``None`` lets them choose."""
        return self.common_options.threads

    @property
    def processes(self) -> int | None:
        """Worker processes for a CPU-bound stage; ``None`` means one per CPU.

        It is the value ``concurrent.futures.ProcessPoolExecutor(max_workers=)``
        expects, so it can be passed on unchanged. ``ImportDataBaseCommand``
        reads it differently: its clean and build steps use worker processes
        only when it is 2 or more, and ``None`` keeps them in the command's
        process (on the flights demo, workers made them slower; see
        ``docs/performance.md``).
        """
        return self.common_options.processes

    @property
    def database(self) -> str | None:
        """The ``--database`` alias, or ``None`` to let the router choose.

        Pass it on as ``using=self.database``: ``None`` is what winidjango's
        bulk functions and Django's ``using()`` treat as "ask the router".
        """
        return self.common_options.database
