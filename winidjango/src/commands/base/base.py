"""The abstract base of winidjango's management commands.

:class:`ABCBaseCommand` is a Django ``BaseCommand`` split into a template: the
base class owns the common options and what they do (dry run, confirmation,
time limit, transaction, interrupts), and a subclass only adds its own
arguments and its own work.
"""

import sys
import threading
from abc import abstractmethod
from argparse import ArgumentParser
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any, NoReturn, TextIO

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from winiutils.core.oop.mixins.mixin import ABCLoggingMixin

from winidjango.src.commands._options import (
    CommonOptionsMixin,
    add_common_arguments,
    read_common_options,
)
from winidjango.src.commands._progress import ProgressDisplay
from winidjango.src.commands._timeout import (
    CommandTimeout,
    Deadline,
    Interrupts,
    exit_code_of,
)
from winidjango.src.commands._writes import DryRunGuard, ReadOnlyGuard, WriteLog

_YES_ANSWERS = frozenset({"y", "yes"})
_NO_ANSWERS = frozenset({"", "n", "no"})


@contextmanager
def hook_errors(step: str, hook: str | None = None) -> Iterator[None]:
    """Turn an unexpected error inside ``step`` into a ``CommandError`` naming it.

    A ``CommandError`` passes unchanged, and so do ``KeyboardInterrupt``,
    ``SystemExit`` and the time limit (none of them is an ``Exception``).
    Anything else, a ``FileNotFoundError`` in a subclass's reader or a bug
    in its own step, becomes ``"<step> step: <hook>() failed: <type>:
    <message>"``, chained to the original with ``raise ... from``, so that
    ``--traceback`` still shows where it came from.

    Examples:
        >>> with hook_errors("read", "handle_import"):
        ...     open("missing.csv")
        Traceback (most recent call last):
        CommandError: read step: handle_import() failed: FileNotFoundError: ...
    """
    try:
        yield
    except CommandError:
        raise
    except Exception as error:
        where = f"{step} step: {hook}() failed" if hook else f"{step} step failed"
        message = f"{where}: {type(error).__name__}: {error}"
        raise CommandError(message) from error


class ABCBaseCommand(ABCLoggingMixin, CommonOptionsMixin, BaseCommand):
    """A management command with winidjango's common options and their behaviour.

    A subclass implements :meth:`add_command_arguments` and
    :meth:`handle_command`; everything else is set up by :meth:`base_handle`
    and by the run around :meth:`handle_command`:

    - ``--dry-run`` / ``--dry_run``: the command runs for real inside a
      transaction on every database it uses, rolled back at the end; the
      output says so and lists the rows that would have been written.
      Statements such a rollback would not undo are refused.
    - ``--yes``: :meth:`confirm` answers yes. Without it, :meth:`confirm` asks
      on a terminal and says no (with a message) when stdin is not one.
    - ``--timeout SECONDS``: the command stops with a ``CommandError`` after
      that time, and its transaction (if it has one) is rolled back.
    - ``--batch-size``, ``--threads``, ``--processes``: numbers for the
      subclass's bulk calls and worker pools, as :attr:`batch_size`,
      :attr:`threads` and :attr:`processes`.
    - ``--force``, ``--delete``: flags whose meaning belongs to the subclass.
    - ``--database ALIAS``: where the command's transaction runs (and, by
      convention, where the subclass writes: pass ``using=self.database``).

    :attr:`atomic` (a class attribute, in the style of Django's
    ``requires_migrations_checks``) says whether :meth:`handle_command` runs
    inside a transaction. Ctrl-C
    or ``SIGTERM`` rolls that transaction back and ends the command with
    exit status 130 or 143 and one line on stderr.

    Every method call, the subclass's included, is logged at INFO level with
    its duration by winiutils' ``ABCLoggingMixin``.

    Examples:
        >>> class Command(ABCBaseCommand):
        ...     help = "Give every author a birth year."
        ...
        ...     def add_command_arguments(self, parser: ArgumentParser) -> None:
        ...         parser.add_argument("--year", type=int, default=1900)
        ...
        ...     def handle_command(self) -> None:
        ...         authors = Author.objects.using(self.database)
        ...         updated = authors.filter(birth_year=None).update(
        ...             birth_year=self.get_option("year")
        ...         )
        ...         self.say(f"{updated} authors updated")
    """

    #: Run :meth:`handle_command` inside ``transaction.atomic()`` on
    #: ``--database`` (or ``default``), so that an error, a timeout or an
    #: interrupt undoes all of its writes there. Off by default: a command
    #: that never touches the database then runs without one (even when it
    #: is down), and a long-running command holds no transaction open. A
    #: dry run always runs inside a rolled-back transaction, whatever this
    #: says. ``ImportDataBaseCommand`` sets it.
    atomic: bool = False

    # ``stdin`` lets callers (tests, scripts) hand :meth:`confirm` its input:
    # ``call_command(cmd, stdin=io.StringIO("y\\n"))``.
    base_stealth_options = (*BaseCommand.base_stealth_options, "stdin")

    # Note on the logging metaclass: ABCLoggingMeta wraps every non-dunder
    # method defined here, ``add_arguments`` and ``handle`` included. Django
    # only ever calls them, never inspects them, so the wrappers are harmless.
    # What would break is kept out of this class: the option properties live
    # in ``CommonOptionsMixin`` (see there) and the SIGALRM handler in
    # ``Deadline``, because a logging wrapper has no business running inside a
    # signal handler.

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        no_color: bool = False,
        force_color: bool = False,
    ) -> None:
        super().__init__(stdout, stderr, no_color, force_color)
        self.args: tuple[Any, ...] = ()
        self.options: dict[str, Any] = {}
        self.verbosity = 1
        self.write_log = WriteLog()
        self._stdin: TextIO = sys.stdin
        self._deadline = Deadline(None)
        self._transactions: ExitStack | None = None
        self._transaction_aliases: set[str] = set()
        self._logged_aliases: set[str] = set()
        self._other_thread_guards: list[tuple[BaseDatabaseWrapper, Any]] = []
        self._threads_before: set[int | None] = set()
        # Draws nothing until a run replaces it (see _run_handle_command).
        self.progress_display = ProgressDisplay(self.stderr, enabled=False)

    # -- the template -----------------------------------------------------

    @abstractmethod
    def add_command_arguments(self, parser: ArgumentParser) -> None:
        """Add the arguments of this command; the common ones are already there.

        Examples:
            >>> def add_command_arguments(self, parser):
            ...     parser.add_argument("--input-file", required=True)
        """

    @abstractmethod
    def handle_command(self) -> None:
        """Do this command's work; options are set up (and a transaction is open).

        The transaction is there if the class sets :attr:`atomic`, or in a
        dry run.

        Read options with :meth:`get_option` or the typed properties
        (:attr:`batch_size`, :attr:`dry_run`, ...); write output with
        :meth:`say` or ``self.stdout``; raise ``CommandError`` to fail.

        Examples:
            >>> def handle_command(self):
            ...     self.say(f"batch size {self.batch_size}")
        """

    def add_arguments(self, parser: ArgumentParser) -> None:
        """Add the common options, then the subclass's own arguments.

        Examples:
            >>> parser = Command().create_parser("manage.py", "mycommand")
            >>> parser.parse_args(["--dry-run"]).dry_run
            True
        """
        add_common_arguments(parser)
        self.add_command_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        """Set up the common options, then run :meth:`handle_command` under them.

        Django calls this; subclasses implement :meth:`handle_command` instead.

        Examples:
            >>> call_command("mycommand", dry_run=True)  # doctest: +SKIP
        """
        self.base_handle(*args, **options)
        self._run_handle_command()

    def base_handle(self, *args: Any, **options: Any) -> None:
        """Store and check the arguments and options of this run.

        ``call_command`` passes Python values without the parser's checks, so
        the common options are checked again here; a bad one is a
        ``CommandError`` before anything runs.

        Examples:
            >>> command.base_handle(batch_size=-1)  # doctest: +SKIP
            Traceback (most recent call last):
            CommandError: --batch_size must be a whole number >= 1, got -1
        """
        self.args = args
        self.options = options
        self.common_options = read_common_options(options)
        self.verbosity = int(options.get("verbosity", 1))
        self._stdin = options.get("stdin") or sys.stdin
        self.write_log = WriteLog()
        database = self.common_options.database
        if database is not None and database not in connections.settings:
            known = ", ".join(sorted(connections.settings))
            message = f"--database {database!r} is not in DATABASES (known: {known})"
            raise CommandError(message)

    def get_option(self, name: str) -> Any:
        """Return the value of option ``name`` (its ``dest``, e.g. ``"dry_run"``).

        Examples:
            >>> command.get_option("batch_size")  # doctest: +SKIP
            1000
        """
        try:
            return self.options[name]
        except KeyError:
            known = ", ".join(sorted(self.options))
            message = f"{type(self).__name__} has no option {name!r} (known: {known})"
            raise KeyError(message) from None

    # -- services for subclasses -----------------------------------------

    def say(self, message: str, *, level: int = 1) -> None:
        """Write ``message`` to stdout if ``--verbosity`` is at least ``level``.

        Examples:
            >>> command.say("details", level=2)  # only with -v 2 or more
        """
        if self.verbosity >= level:
            # On a terminal, the message goes above the progress lines.
            with self.progress_display.paused():
                self.stdout.write(message)

    def confirm(self, question: str) -> bool:
        """Ask ``question``; return whether the answer is yes.

        With ``--yes`` the answer is yes without asking. Otherwise the question
        is asked on stdout and read from stdin, but only if stdin is a
        terminal: a command run from cron or a pipe has nobody to answer, so
        the answer is no and a note saying so goes to stderr. The caller then
        skips its destructive step.

        Examples:
            >>> if command.confirm("Delete 3 rows?"):  # doctest: +SKIP
            ...     queryset.delete()
        """
        if self.yes:
            return True
        if not self._stdin_is_terminal():
            note = f"Not confirmed: {question} (stdin is not a terminal; "
            self.stderr.write(self.style.WARNING(note + "pass --yes to confirm)"))
            return False
        return self._ask(question)

    def include_in_transaction(self, alias: str) -> None:
        """Make the command's transaction cover database ``alias`` as well.

        An :attr:`atomic` command's transaction is opened on ``--database``
        (or ``default``). A command that writes elsewhere, e.g. where the
        router sends a model, calls this first, so that a timeout, an
        interrupt or an error rolls those writes back too; in a command that
        is not :attr:`atomic` it opens a transaction on ``alias`` for the
        rest of the run. A dry run covers every database it touches by
        itself. Calling it again for the same alias is a no-op.

        Examples:
            >>> command.include_in_transaction(router.db_for_write(Author))
        """
        if self._transactions is None:
            message = "include_in_transaction() works only while the command runs"
            raise RuntimeError(message)
        if alias in self._transaction_aliases:
            return
        self._transaction_aliases.add(alias)
        self._transactions.enter_context(transaction.atomic(using=alias))
        self._log_writes(alias)
        if self.dry_run:
            # Runs on the way out, before the atomic block exits; on an error
            # the block rolls back anyway and this is harmless.
            self._transactions.callback(transaction.set_rollback, True, using=alias)

    def check_timeout(self) -> None:
        """Stop the command here if its ``--timeout`` has passed.

        In the main thread an alarm stops the command anyway; call this in
        long loops of a command that may run in another thread.

        Examples:
            >>> for chunk in chunks:  # doctest: +SKIP
            ...     command.check_timeout()
            ...     write(chunk)
        """
        self._deadline.check()

    # -- the run ----------------------------------------------------------

    def _run_handle_command(self) -> None:
        self._deadline = Deadline(self.timeout)
        self._transaction_aliases = set()
        self._logged_aliases = set()
        # Steps and chunked writes draw here, on a terminal's stderr.
        self.progress_display = ProgressDisplay(
            self.stderr,
            enabled=self.verbosity >= 1,
            no_color=bool(self.options.get("no_color")),
        )
        with Interrupts() as interrupts:
            try:
                self._run_in_transactions(interrupts)
            except CommandTimeout:
                message = (
                    f"Timed out after {self.timeout:g} seconds; "
                    f"{self._rollback_note()}."
                )
                raise CommandError(message) from None
            except KeyboardInterrupt as interrupt:
                # Every transaction block has been left, rolled back, here.
                self._exit_interrupted(exit_code_of(interrupt))
            finally:
                self._transactions = None
                self._stop_guarding_other_threads()
            if interrupts.pending is not None:
                # The signal came while the transaction committed.
                self._exit_interrupted(128 + interrupts.pending, committed=True)
        if self.dry_run:
            self._report_dry_run()

    def _run_in_transactions(self, interrupts: Interrupts) -> None:
        try:
            self._run_in_transactions_drawing(interrupts)
        finally:
            # Before any message: the progress lines stay above it.
            self.progress_display.close()

    def _run_in_transactions_drawing(self, interrupts: Interrupts) -> None:
        interrupts.armed = True
        with ExitStack() as transactions:
            self._transactions = transactions
            if self.atomic:
                self.include_in_transaction(self.database or DEFAULT_DB_ALIAS)
            if self.dry_run:
                self._guard_every_database(transactions)
            # The deadline sits inside the transactions, so it is disarmed
            # before they commit: a commit is never interrupted halfway.
            with self._deadline:
                self.handle_command()
            # The same for Ctrl-C and SIGTERM: from here on they wait.
            interrupts.armed = False

    def _log_writes(self, alias: str) -> None:
        if alias in self._logged_aliases or self._transactions is None:
            return
        self._logged_aliases.add(alias)
        wrapper = connections[alias].execute_wrapper(self.write_log)
        self._transactions.enter_context(wrapper)

    def _guard_every_database(self, transactions: ExitStack) -> None:
        """Put every database of ``DATABASES`` under the dry run's rollback.

        Only the wrapper lists of this thread's connection objects change:
        no database is connected to until the command uses it, and its first
        statement then opens the transaction (see ``DryRunGuard``).
        """
        for alias in connections:
            try:
                connection = connections[alias]
            except ImproperlyConfigured:
                # Its driver is not installed: nothing can use this database.
                continue
            guard = DryRunGuard(alias, connection, cover=self.include_in_transaction)
            guard.covered = alias in self._transaction_aliases
            transactions.enter_context(connection.execute_wrapper(guard))
            self._log_writes(alias)
        self._threads_before = {thread.ident for thread in threading.enumerate()}
        connection_created.connect(self._guard_other_thread, weak=False)

    def _guard_other_thread(
        self, sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any
    ) -> None:
        # A worker thread's own connection (bulk calls with atomic=False and
        # threads) commits on its own: in a dry run it may only read. Threads
        # that ran before the dry run began (another command's, a server's)
        # are not its workers and are left alone.
        if threading.get_ident() in self._threads_before:
            return
        guard = ReadOnlyGuard(connection.alias)
        connection.execute_wrappers.append(guard)
        self._other_thread_guards.append((connection, guard))

    def _stop_guarding_other_threads(self) -> None:
        connection_created.disconnect(self._guard_other_thread)
        for connection, guard in self._other_thread_guards:
            with suppress(ValueError):
                connection.execute_wrappers.remove(guard)
        self._other_thread_guards = []

    def _rollback_note(self) -> str:
        if not self._transaction_aliases:
            return (
                "the command runs without a transaction, so what it wrote "
                "before was kept"
            )
        return "rolled back, nothing was written"

    def _exit_interrupted(self, code: int, *, committed: bool = False) -> NoReturn:
        """Say on one line what became of the writes; exit like the signal would.

        ``SystemExit`` passes through Django's ``run_from_argv`` (it catches
        only ``CommandError``) after it has closed the connections, and the
        interpreter exits with ``code`` and no traceback.
        """
        if committed:
            note = "the command had finished and its transaction was committed"
        else:
            note = self._rollback_note()
        self.stderr.write(f"Interrupted: {note}.")
        raise SystemExit(code)

    def _report_dry_run(self) -> None:
        self.say(
            self.style.WARNING(
                "Dry run: all database writes were rolled back. "
                f"It would have written: {self.write_log.describe()}."
            )
        )

    def _stdin_is_terminal(self) -> bool:
        isatty = getattr(self._stdin, "isatty", None)
        return bool(isatty is not None and isatty())

    def _ask(self, question: str) -> bool:
        # A progress display redrawing over the question would hide it.
        with self.progress_display.paused():
            return self._ask_until_answered(question)

    def _ask_until_answered(self, question: str) -> bool:
        while True:
            self.stdout.write(f"{question} [y/N] ", ending="")
            self.stdout.flush()
            line = self._stdin.readline()
            if not line:  # end of input: nobody will answer
                self.stdout.write("")
                return False
            answer = line.strip().lower()
            if answer in _YES_ANSWERS:
                return True
            if answer in _NO_ANSWERS:
                return False
            self.stdout.write("Please answer y or n.")
