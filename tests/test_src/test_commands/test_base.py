"""ABCBaseCommand: the common options, their behaviour, and running the command.

Most tests run the ``probe`` test command through ``call_command`` on every
backend; ``database=alias`` points the command's transaction at the backend
under test.
"""

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from argparse import SUPPRESS, ArgumentParser
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from tests.testapp.management.commands import probe
from tests.testapp.management.commands.probe import Command as ProbeCommand
from tests.testapp.models import Author
from winidjango.src.commands._options import CommonOptionsMixin, read_common_options
from winidjango.src.commands._timeout import CommandTimeout, Deadline
from winidjango.src.commands._writes import WriteLog
from winidjango.src.commands.base.base import ABCBaseCommand
from winidjango.src.db.bulk import bulk_create_in_steps

ROOT = Path(__file__).resolve().parents[3]

DEFAULTS = {
    "batch_size": 1000,
    "database": None,
    "delete": False,
    "dry_run": False,
    "force": False,
    "processes": None,
    "threads": None,
    "timeout": None,
    "yes": False,
}


class TerminalInput(io.StringIO):
    """Keyboard input as a test can type it: a stream that says it is a TTY."""

    def isatty(self) -> bool:
        return True


def run_probe(alias: str | None, *args: str, **options: Any) -> tuple[Any, str, str]:
    command = ProbeCommand()
    out, err = io.StringIO(), io.StringIO()
    if alias is not None:
        options["database"] = alias
    call_command(command, *args, stdout=out, stderr=err, **options)
    return command, out.getvalue(), err.getvalue()


def parse(*argv: str) -> dict[str, Any]:
    parser = ProbeCommand().create_parser("manage.py", "probe")
    return vars(parser.parse_args(list(argv)))


# -- parsing, no database -----------------------------------------------------


@pytest.mark.parametrize(
    ("spec_spelling", "django_spelling", "dest", "value"),
    [
        (["--dry_run"], ["--dry-run"], "dry_run", True),
        (["--batch_size", "7"], ["--batch-size", "7"], "batch_size", 7),
    ],
)
def test_both_spellings_store_the_same_option(
    spec_spelling: list[str], django_spelling: list[str], dest: str, value: Any
) -> None:
    assert parse(*spec_spelling)[dest] == value
    assert parse(*django_spelling)[dest] == value


def test_all_common_options_parse_with_their_types() -> None:
    options = parse(
        "--force",
        "--delete",
        "--yes",
        "--timeout",
        "2.5",
        "--threads",
        "3",
        "--processes",
        "4",
        "--database",
        "other",
    )
    assert options["force"] is options["delete"] is options["yes"] is True
    assert options["timeout"] == 2.5
    assert (options["threads"], options["processes"]) == (3, 4)
    assert options["database"] == "other"


def test_every_common_option_has_a_help_text() -> None:
    parser = ProbeCommand().create_parser("manage.py", "probe")
    actions = {action.dest: action for action in parser._actions}
    for dest in DEFAULTS:
        help_text = actions[dest].help
        assert help_text, dest
        assert help_text != SUPPRESS
    usage = parser.format_help()
    for flag in ("--dry_run", "--dry-run", "--batch_size", "--batch-size", "--yes"):
        assert flag in usage


@pytest.mark.parametrize(
    ("argument", "complaint"),
    [
        ("--batch_size=-5", "must be a whole number >= 1, got -5"),
        ("--batch-size=0", "must be a whole number >= 1, got 0"),
        ("--batch_size=many", "must be a whole number >= 1, got 'many'"),
        ("--threads=0", "must be a whole number >= 1"),
        ("--processes=-2", "must be a whole number >= 1"),
        ("--timeout=0", "must be a number of seconds > 0"),
        ("--timeout=-1", "must be a number of seconds > 0"),
        ("--timeout=nan", "must be a number of seconds > 0"),
        ("--timeout=soon", "must be a number of seconds > 0, got 'soon'"),
    ],
)
def test_bad_numbers_on_the_command_line_are_parser_errors(
    argument: str, complaint: str
) -> None:
    with pytest.raises(CommandError, match=r"^Error: argument --") as error:
        call_command("probe", argument)
    assert complaint in str(error.value)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"batch_size": -5}, "--batch_size must be a whole number >= 1, got -5"),
        ({"batch_size": "10"}, "--batch_size must be a whole number >= 1, got '10'"),
        ({"threads": 0}, "--threads must be a whole number >= 1"),
        ({"processes": True}, "--processes must be a whole number >= 1, got True"),
        ({"timeout": 0}, "--timeout must be a number of seconds > 0"),
        ({"timeout": "1"}, "--timeout must be a number of seconds > 0"),
        ({"database": "nowhere"}, "--database 'nowhere' is not in DATABASES"),
        ({"database": 5}, "--database must be a database alias, got 5"),
    ],
)
def test_bad_values_from_call_command_are_refused_before_running(
    options: dict[str, Any], complaint: str
) -> None:
    # call_command hands Python values over without the parser's type checks.
    with pytest.raises(CommandError) as error:
        call_command("probe", **options)
    assert complaint in str(error.value)


def test_read_common_options_defaults_when_options_are_missing() -> None:
    options = read_common_options({"batch_size": None})
    assert options.batch_size == 1000
    assert options.threads is None


def test_get_option_names_the_known_options_when_asked_for_another() -> None:
    command = ProbeCommand()
    command.base_handle(batch_size=5, verbosity=1)
    assert command.get_option("batch_size") == 5
    with pytest.raises(KeyError, match=r"has no option 'nope'.*batch_size"):
        command.get_option("nope")


def test_a_command_must_implement_both_hooks() -> None:
    class Incomplete(ABCBaseCommand):
        def add_command_arguments(self, parser: ArgumentParser) -> None:
            pass

    with pytest.raises(TypeError, match="handle_command"):
        Incomplete()  # type: ignore[abstract]


def test_include_in_transaction_only_while_running() -> None:
    with pytest.raises(RuntimeError, match="only while the command runs"):
        ProbeCommand().include_in_transaction("default")


def test_option_properties_survive_the_logging_metaclass() -> None:
    # The metaclass wraps callables; the properties must stay properties.
    assert isinstance(vars(CommonOptionsMixin)["batch_size"], property)
    command = ProbeCommand()
    command.common_options = read_common_options({"batch_size": 9, "threads": 2})
    assert (command.batch_size, command.threads, command.processes) == (9, 2, None)


# -- running, on every backend --------------------------------------------------


def test_defaults_reach_the_command(alias: str) -> None:
    command, out, _ = run_probe(alias)
    assert command.seen == {**DEFAULTS, "database": alias}
    assert json.loads(out.splitlines()[0].removeprefix("options: "))["yes"] is False


def test_options_in_either_spelling_reach_the_command(alias: str) -> None:
    command, _, _ = run_probe(
        alias,
        "--batch-size=7",
        "--threads=3",
        "--processes=2",
        "--force",
        "--delete",
        "--yes",
        "--timeout=30",
    )
    assert command.seen == {
        **DEFAULTS,
        "database": alias,
        "batch_size": 7,
        "threads": 3,
        "processes": 2,
        "force": True,
        "delete": True,
        "yes": True,
        "timeout": 30.0,
    }
    from_kwargs, _, _ = run_probe(alias, batch_size=7, dry_run=True)
    assert from_kwargs.seen["batch_size"] == 7
    assert from_kwargs.seen["dry_run"] is True


def test_batch_size_and_threads_are_the_bulk_calls_step_and_threads(
    alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, dict[str, Any]]] = []
    real = bulk_create_in_steps

    def spy(model: Any, bulk: Any, step: int, **kwargs: Any) -> Any:
        calls.append((step, kwargs))
        return real(model, bulk, step, **kwargs)

    monkeypatch.setattr(probe, "bulk_create_in_steps", spy)
    run_probe(alias, "--batch_size", "1", "--threads", "3", names="Ann,Bob,Cy")
    assert calls == [(1, {"using": alias, "threads": 3})]
    assert Author.objects.count() == 3


def test_writes_are_kept_without_dry_run(alias: str) -> None:
    _, out, _ = run_probe(alias, names="Ann,Bob")
    assert sorted(Author.objects.values_list("name", flat=True)) == ["Ann", "Bob"]
    assert "created 2 authors" in out
    assert "Dry run" not in out


@pytest.mark.django_db(transaction=True)
def test_dry_run_rolls_back_and_says_what_it_would_have_written(alias: str) -> None:
    Author.objects.create(name="Kept")
    _, out, _ = run_probe(alias, "--dry-run", "--yes", "--purge", names="Ann,Bob")
    assert list(Author.objects.values_list("name", flat=True)) == ["Kept"]
    assert "created 2 authors" in out
    assert "Dry run: all database writes were rolled back." in out
    assert "2 rows inserted into testapp_author" in out
    assert "3 rows deleted from testapp_author" in out


@pytest.mark.django_db(transaction=True)
def test_dry_run_with_nothing_written_says_so(alias: str) -> None:
    _, out, _ = run_probe(alias, dry_run=True)
    assert "It would have written: no rows written." in out


@pytest.mark.django_db(transaction=True)
def test_dry_run_without_database_option_uses_default_and_the_router() -> None:
    # No backend fixture: 'default' (SQLite) is the only database allowed here.
    _, out, _ = run_probe(None, dry_run=True, names="Ann")
    assert Author.objects.count() == 0
    assert "1 row inserted into testapp_author" in out


def test_yes_confirms_without_asking(alias: str) -> None:
    Author.objects.create(name="Old")
    _, out, err = run_probe(alias, "--yes", "--purge", stdin=TerminalInput(""))
    assert Author.objects.count() == 0
    assert "deleted 1 authors" in out
    assert "[y/N]" not in out
    assert err == ""


def test_without_a_terminal_confirm_refuses_and_says_why(alias: str) -> None:
    Author.objects.create(name="Old")
    # Piped input is not a person answering, even if it says "y".
    _, out, err = run_probe(alias, "--purge", stdin=io.StringIO("y\n"))
    assert Author.objects.count() == 1
    assert "deleted" not in out
    assert "Not confirmed: Delete all authors?" in err
    assert "pass --yes" in err


@pytest.mark.parametrize(
    ("typed", "deleted"),
    [("y\n", True), ("YES\n", True), ("n\n", False), ("\n", False), ("", False)],
)
def test_on_a_terminal_confirm_asks(alias: str, typed: str, deleted: bool) -> None:
    Author.objects.create(name="Old")
    _, out, _ = run_probe(alias, "--purge", stdin=TerminalInput(typed))
    assert "Delete all authors? [y/N] " in out
    assert (Author.objects.count() == 0) is deleted


def test_confirm_asks_again_after_an_unclear_answer(alias: str) -> None:
    Author.objects.create(name="Old")
    _, out, _ = run_probe(alias, "--purge", stdin=TerminalInput("maybe\ny\n"))
    assert out.count("[y/N]") == 2
    assert "Please answer y or n." in out
    assert Author.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_timeout_stops_the_command_and_rolls_back(alias: str) -> None:
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"Timed out after 0\.3 seconds") as error:
        run_probe(alias, "--timeout", "0.3", names="Ann,Bob", sleep=10)
    assert "rolled back" in str(error.value)
    assert time.monotonic() - started < 5
    assert Author.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_timeout_in_a_worker_thread_stops_at_checks(alias: str) -> None:
    # Signals only reach the main thread; there check_timeout() enforces it.
    errors: list[BaseException] = []

    def work() -> None:
        try:
            run_probe(alias, timeout=0.3, names="Ann", spin=10)
        except BaseException as error:  # handed to the test thread
            errors.append(error)
        finally:
            connections.close_all()

    started = time.monotonic()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=20)
    assert time.monotonic() - started < 5
    assert len(errors) == 1
    assert isinstance(errors[0], CommandError)
    assert "Timed out after 0.3 seconds" in str(errors[0])
    assert Author.objects.count() == 0


def test_a_fast_command_is_not_stopped_and_leaves_no_alarm(alias: str) -> None:
    handler_before = signal.getsignal(signal.SIGALRM)
    run_probe(alias, timeout=30, names="Ann")
    assert Author.objects.count() == 1
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler_before


def test_verbosity_zero_writes_nothing(alias: str) -> None:
    _, out, err = run_probe(alias, verbosity=0, dry_run=True, names="Ann")
    assert (out, err) == ("", "")


def test_method_calls_are_logged_with_their_duration(
    alias: str, caplog: pytest.LogCaptureFixture
) -> None:
    class FreshProbe(ProbeCommand):
        # A new subclass gets its own logging wrappers, whose once-per-second
        # rate limit has not been used up by other tests.
        def handle_command(self) -> None:
            super().handle_command()

    with caplog.at_level(logging.INFO, logger="winiutils"):
        call_command(FreshProbe(), database=alias, stdout=io.StringIO())
    messages = [record.getMessage() for record in caplog.records]
    assert any("FreshProbe - Calling handle_command" in m for m in messages)
    assert any(
        "FreshProbe - handle_command finished with" in m and "seconds" in m
        for m in messages
    )


# -- the helpers behind the options ---------------------------------------------


def test_deadline_restores_an_outer_timer_and_handler() -> None:
    fired: list[int] = []

    def outer(signum: int, frame: object) -> None:
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        with Deadline(5) as deadline:
            deadline.check()
        assert signal.getsignal(signal.SIGALRM) is outer
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 20 < remaining <= 30
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


def _overrun(deadline: Deadline) -> None:
    with deadline:
        time.sleep(0.05)  # the alarm or the check, whichever comes first
        deadline.check()


def test_deadline_raises_a_base_exception() -> None:
    with pytest.raises(CommandTimeout):
        _overrun(Deadline(0.01))
    assert not issubclass(CommandTimeout, Exception)


def test_write_log_counts_rows_per_table(alias: str) -> None:
    log = WriteLog()
    with connections[alias].execute_wrapper(log):
        Author.objects.bulk_create([Author(name="A"), Author(name="B")])
        Author.objects.create(name="C")
        Author.objects.filter(name="A").update(birth_year=1)
        Author.objects.filter(name__in=["B", "C"]).delete()
        list(Author.objects.all())
    assert log.rows_by_table() == {
        ("INSERT", "testapp_author"): 3,
        ("UPDATE", "testapp_author"): 1,
        ("DELETE", "testapp_author"): 2,
    }
    assert log.describe() == (
        "2 rows deleted from testapp_author, 3 rows inserted into testapp_author, "
        "1 row updated in testapp_author"
    )


# -- through manage.py ------------------------------------------------------------


def _django_admin(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": "."}
    # --skip-checks: the model checks of MySQL connect to the real (non-test)
    # database, which need not exist.
    command = [sys.executable, "-m", "django", *argv, "--skip-checks"]
    return subprocess.run(
        [*command, "--settings", "tests.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_command_line_errors_exit_non_zero_and_options_work() -> None:
    bad = _django_admin("probe", "--batch_size", "-5")
    assert bad.returncode == 2
    assert "argument --batch-size/--batch_size: must be a whole number >= 1" in (
        bad.stderr
    )
    unknown = _django_admin("probe", "--database", "nowhere")
    assert unknown.returncode == 1
    assert "CommandError: --database 'nowhere' is not in DATABASES" in unknown.stderr
    # Nothing is written: a dry run with no names only opens a transaction.
    ok = _django_admin("probe", "--dry-run", "--batch-size", "5", "--threads=2")
    assert ok.returncode == 0, ok.stderr
    seen = json.loads(ok.stdout.splitlines()[0].removeprefix("options: "))
    assert (seen["dry_run"], seen["batch_size"], seen["threads"]) == (True, 5, 2)
    assert "Dry run: all database writes were rolled back." in ok.stdout
