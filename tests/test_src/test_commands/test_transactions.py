"""ABCBaseCommand's transaction: opt-in ``atomic``, dry run guarantees, interrupts.

Dry runs run raw statements of every kind on a second database of each
backend; interrupts are tested in-process (the command signals itself) and
with a real signal sent to ``python -m django`` running on the test's own
database.
"""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connections

from tests import router
from tests.testapp.management.commands.nodb import Command as NoDbCommand
from tests.testapp.management.commands.probe import Command as ProbeCommand
from tests.testapp.management.commands.rawsql import Command as RawSqlCommand
from tests.testapp.models import Author
from winidjango.src.commands._timeout import (
    CommandInterrupted,
    Interrupts,
    exit_code_of,
)
from winidjango.src.commands._writes import (
    ReadOnlyGuard,
    dry_run_refusal,
    is_plain_read,
    leading_keywords,
)
from winidjango.src.commands.import_data import ImportDataBaseCommand

ROOT = Path(__file__).resolve().parents[3]
SCRATCH = "winidjango_dry_run_scratch"


def run(command: Any, *args: str, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# -- atomic is opt-in -------------------------------------------------------------


def test_atomic_is_off_by_default_and_on_for_imports() -> None:
    assert NoDbCommand.atomic is False
    assert ImportDataBaseCommand.atomic is True
    assert ProbeCommand.atomic is True


def test_a_command_without_atomic_needs_no_database() -> None:
    # No django_db mark: pytest-django makes any connection attempt an error,
    # so this passing proves the command (and its dry run) connected nowhere.
    command = NoDbCommand()
    out, _ = run(command)
    assert out == "in transaction: False\n"
    assert not any(command.in_transaction.values())
    dry = NoDbCommand()
    out, _ = run(dry, "--dry-run")
    assert "in transaction: False" in out
    assert "It would have written: no rows written." in out


@pytest.mark.django_db(transaction=True)
def test_an_atomic_command_holds_its_transaction(alias: str) -> None:
    class AtomicNoDb(NoDbCommand):
        atomic = True

    command = AtomicNoDb()
    run(command, database=alias)
    assert command.in_transaction[alias] is True
    assert not any(v for a, v in command.in_transaction.items() if a != alias)
    plain = NoDbCommand()
    run(plain, database=alias)
    assert plain.in_transaction[alias] is False


@pytest.mark.django_db(transaction=True)
def test_without_atomic_writes_are_kept_on_error(alias: str) -> None:
    with pytest.raises(DatabaseError):
        # The bad statement fails after the author was written: no
        # transaction, so the author stays.
        run(
            RawSqlCommand(),
            database=alias,
            on=alias,
            names="Ann",
            sql=["SELECT * FROM nowhere"],
        )
    assert list(Author.objects.values_list("name", flat=True)) == ["Ann"]


# -- the default database is down ---------------------------------------------------


def _manage(
    database: dict[str, Any], *argv: str, **popen: Any
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": ".",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
        "WINIDJANGO_SUBPROCESS_DATABASE": json.dumps(database, default=str),
    }
    # --skip-checks: the checks are not what is tested, and take time.
    command = [sys.executable, "-m", "django", *argv, "--skip-checks"]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


UNREACHABLE = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "nothing",
    "USER": "postgres",
    "HOST": "127.0.0.1",
    # The discard port: nothing listens there.
    "PORT": "9",
    "OPTIONS": {"connect_timeout": 2},
}


def test_with_the_default_database_down_only_atomic_commands_fail() -> None:
    plain = _manage(UNREACHABLE, "nodb")
    out, err = plain.communicate(timeout=60)
    assert plain.returncode == 0, err
    assert out == "in transaction: False\n"
    dry = _manage(UNREACHABLE, "nodb", "--dry-run")
    out, err = dry.communicate(timeout=60)
    assert dry.returncode == 0, err
    assert "Dry run: all database writes were rolled back." in out
    # The contrast: a command that asks for a transaction needs the database.
    atomic = _manage(UNREACHABLE, "probe")
    _, err = atomic.communicate(timeout=60)
    assert atomic.returncode == 1
    assert "OperationalError" in err


# -- option spellings ----------------------------------------------------------------


def test_help_shows_djangos_spelling_first() -> None:
    text = ProbeCommand().create_parser("manage.py", "probe").format_help()
    assert "--dry-run, --dry_run" in text
    assert "--batch-size N, --batch_size N" in text
    assert "--dry_run, --dry-run" not in text


@pytest.mark.parametrize(
    "argv",
    [["--dry-run", "--batch-size", "3"], ["--dry_run", "--batch_size", "3"]],
)
def test_both_spellings_run(argv: list[str]) -> None:
    command = NoDbCommand()
    run(command, *argv)
    assert (command.dry_run, command.batch_size) == (True, 3)


# -- dry runs write nowhere -----------------------------------------------------------


def _pair(second: str) -> Any:
    """(main alias, second alias): the second is the backend under test."""
    main = "postgresql" if second == "default" else "default"
    missing = [
        name
        for name in {main, second}
        if name != "default" and name not in settings.DATABASES
    ]
    marks = [pytest.mark.django_db(databases=[main, second], transaction=True)]
    if missing:
        reason = settings.UNAVAILABLE_BACKENDS[missing[0]]
        marks.append(pytest.mark.skip(reason=reason))
    ids = {"default": "sqlite", "postgresql": "postgresql", "mariadb": "mariadb"}
    return pytest.param(main, second, id=ids[second], marks=marks)


PAIRS = [_pair("default"), _pair("postgresql"), _pair("mariadb")]


@pytest.fixture
def scratch(request: pytest.FixtureRequest) -> Iterator[str]:
    """A table with one row on the second database, dropped afterwards."""
    second = request.node.callspec.params["second"]
    with connections[second].cursor() as cursor:
        cursor.execute(f"CREATE TABLE {SCRATCH} (id INTEGER, name VARCHAR(20))")
        cursor.execute(f"INSERT INTO {SCRATCH} (id, name) VALUES (1, 'kept')")
    try:
        yield second
    finally:
        with connections[second].cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}")


def _scratch_rows(alias: str) -> list[tuple[Any, ...]]:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT id, name FROM {SCRATCH} ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def _statements(vendor: str) -> dict[str, str]:
    if vendor == "mysql":
        with_insert = (
            f"INSERT INTO {SCRATCH} (id, name) "
            "WITH n AS (SELECT 3 AS id) SELECT id, 'with' FROM n"
        )
    else:
        with_insert = (
            f"WITH n AS (SELECT 3 AS id) INSERT INTO {SCRATCH} (id, name) "
            "SELECT id, 'with' FROM n"
        )
    truncate = f"DELETE FROM {SCRATCH}"
    if vendor != "sqlite":
        truncate = f"TRUNCATE TABLE {SCRATCH}"
    return {
        "block comment insert": (
            f"/* a note */ INSERT INTO {SCRATCH} (id, name) VALUES (2, 'c')"
        ),
        "line comment insert": (
            f"-- a note\nINSERT INTO {SCRATCH} (id, name) VALUES (2, 'c')"
        ),
        "select": f"/* a note */ SELECT id FROM {SCRATCH}",
        "with insert": with_insert,
        "update": f"UPDATE {SCRATCH} SET name = 'changed'",
        "truncate": truncate,
        "drop table": f"DROP TABLE {SCRATCH}",
        "create table": "CREATE TABLE winidjango_dry_run_new (id INTEGER)",
        "alter table": f"ALTER TABLE {SCRATCH} ADD COLUMN extra INTEGER",
        "commit": "COMMIT",
    }


# What MySQL/MariaDB cannot roll back (DDL commits there) and what no
# backend can (ending the transaction) is refused; the rest runs and is
# rolled back.
REFUSED_EVERYWHERE = {"commit"}
REFUSED_ON_MYSQL = {"truncate", "drop table", "create table", "alter table"}


@pytest.mark.parametrize(("main", "second"), PAIRS)
def test_dry_run_rolls_back_or_refuses_raw_statements_on_a_second_database(
    main: str, second: str, scratch: str
) -> None:
    vendor = connections[second].vendor
    for kind, sql in _statements(vendor).items():
        command = RawSqlCommand()
        refused = kind in REFUSED_EVERYWHERE or (
            vendor == "mysql" and kind in REFUSED_ON_MYSQL
        )
        options = {"database": main, "on": second, "names": "Ann", "sql": [sql]}
        if refused:
            with pytest.raises(CommandError, match="Dry run: refusing") as error:
                run(command, "--dry-run", **options)
            assert f"on database '{second}'" in str(error.value), kind
        else:
            out, _ = run(command, "--dry-run", **options)
            assert "Dry run: all database writes were rolled back." in out, kind
            assert f"ran: {sql}" in out
        assert _scratch_rows(second) == [(1, "kept")], kind
        assert not Author.objects.using(main).exists(), kind
        assert not Author.objects.using(second).exists(), kind
        # The statement really wrote inside the dry run (it is no no-op).
        if kind == "with insert":
            assert "1 row inserted into" in out


@pytest.mark.parametrize(("main", "second"), PAIRS)
def test_the_same_statements_without_dry_run_do_write(
    main: str, second: str, scratch: str
) -> None:
    # The control for the test above: its statements are real writes.
    sql = _statements(connections[second].vendor)["with insert"]
    run(RawSqlCommand(), database=main, on=second, sql=[sql])
    assert _scratch_rows(second) == [(1, "kept"), (3, "with")]


@pytest.mark.django_db(databases=["default", "postgresql"], transaction=True)
def test_dry_run_rolls_back_writes_the_router_sends_elsewhere() -> None:
    if "postgresql" not in settings.DATABASES:
        pytest.skip(settings.UNAVAILABLE_BACKENDS["postgresql"])
    router.active_alias = "postgresql"
    try:
        # The command's transaction is on 'default' and the command does not
        # include postgresql: the dry run covers it on its first statement.
        command = ProbeCommand()
        out, _ = run(command, "--no-include", dry_run=True, names="Ann,Bob")
        assert Author.objects.using("postgresql").count() == 0
        assert "2 rows inserted into testapp_author" in out
    finally:
        router.active_alias = "default"


@pytest.mark.backends("postgresql", "mariadb")
@pytest.mark.django_db(transaction=True)
def test_dry_run_refuses_writes_from_worker_threads(alias: str) -> None:
    # atomic=False with threads writes on the workers' own connections, which
    # commit on their own: a dry run must refuse them. (Inside an open
    # transaction the bulk layer writes on the caller's connection instead;
    # a dry run opens its transaction at the first statement, after the bulk
    # call has chosen its workers.)
    class Plain(ProbeCommand):
        atomic = False

    dry_run = (
        "--no-include",
        "--dry-run",
        "--unatomic-bulk",
        "--threads=2",
        "--batch-size=1",
    )
    if alias == "mariadb":
        # The MariaDB writer first reads the server's max_allowed_packet on
        # the caller's connection; that statement opens the dry run's
        # transaction, so the bulk call stays on the caller's connection
        # (no workers) and the rollback undoes its rows.
        run(Plain(), *dry_run, database=alias, names="Ann,Bob,Cy,Di")
    else:
        with pytest.raises(Exception, match="Dry run: refusing") as error:
            run(Plain(), *dry_run, database=alias, names="Ann,Bob,Cy,Di")
        # The bulk layer reports the workers' refusals as failed chunks.
        assert "0 chunk(s) committed" in str(error.value)
    assert Author.objects.count() == 0
    # Outside a dry run the same call writes.
    run(
        Plain(),
        "--no-include",
        "--unatomic-bulk",
        "--threads=2",
        "--batch-size=1",
        database=alias,
        names="Ann,Bob,Cy,Di",
    )
    assert Author.objects.count() == 4


def test_guards_are_removed_after_the_run(alias: str) -> None:
    before = {a: list(connections[a].execute_wrappers) for a in connections}
    run(ProbeCommand(), "--dry-run", database=alias, names="Ann")
    after = {a: list(connections[a].execute_wrappers) for a in connections}
    assert after == before


@pytest.mark.parametrize(
    ("sql", "keywords"),
    [
        ("/* a */ -- b\n ( (SELECT 1))", ["SELECT"]),
        ("# mysql comment\nINSERT INTO t", ["INSERT"]),
        ("  with n as (select 1) insert into t", ["WITH"]),
        ("", []),
    ],
)
def test_leading_keywords_skip_comments_and_parentheses(
    sql: str, keywords: list[str]
) -> None:
    assert leading_keywords(sql, 1) == keywords


@pytest.mark.parametrize(
    ("sql", "read"),
    [
        ("SELECT 1", True),
        ("/* x */ (SELECT name FROM t)", True),
        ("SELECT * INTO copy FROM t", False),
        ("SELECT * FROM t FOR UPDATE", False),
        ("SELECT * FROM t FOR NO KEY UPDATE", False),
        ("SELECT * FROM t LOCK IN SHARE MODE", False),
        ("SELECT 1; DROP TABLE t", False),
        ("WITH n AS (SELECT 1) SELECT * FROM n", False),
        ("-- SELECT\nDELETE FROM t", False),
        ("TRUNCATE t", False),
    ],
)
def test_only_a_plain_select_is_a_read(sql: str, read: bool) -> None:
    assert is_plain_read(sql) is read


@pytest.mark.parametrize(
    "sql",
    ["COMMIT", "commit work", "END", "BEGIN", "START TRANSACTION", "ROLLBACK"],
)
def test_statements_ending_the_transaction_are_refused_everywhere(
    sql: str, alias: str
) -> None:
    assert dry_run_refusal(sql, connections[alias]) is not None
    assert dry_run_refusal("ROLLBACK TO SAVEPOINT s1", connections[alias]) is None


def test_read_only_guard_lets_reads_and_transaction_control_through(
    alias: str,
) -> None:
    with connections[alias].execute_wrapper(ReadOnlyGuard(alias)):
        assert Author.objects.count() == 0
        with pytest.raises(CommandError, match="another thread's connection"):
            Author.objects.create(name="Ann")


# -- interrupts ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("name", "code"), [("INT", 130), ("TERM", 143)])
def test_an_interrupt_rolls_back_and_exits_with_the_signals_code(
    alias: str, name: str, code: int
) -> None:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            ProbeCommand(),
            database=alias,
            names="Ann,Bob",
            signal=name,
            sleep=30,
            stdout=out,
            stderr=err,
        )
    assert exit_info.value.code == code
    assert "created 2 authors" in out.getvalue()
    assert err.getvalue() == "Interrupted: rolled back, nothing was written.\n"
    assert Author.objects.count() == 0
    assert {s: signal.getsignal(s) for s in handlers} == handlers


@pytest.mark.django_db(transaction=True)
def test_an_interrupt_without_a_transaction_says_the_writes_were_kept(
    alias: str,
) -> None:
    class Plain(ProbeCommand):
        atomic = False

    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            Plain(),
            "--no-include",
            database=alias,
            names="Ann",
            signal="TERM",
            sleep=30,
            stdout=io.StringIO(),
            stderr=err,
        )
    assert exit_info.value.code == 143
    assert "without a transaction" in err.getvalue()
    assert Author.objects.count() == 1


def test_interrupts_wait_while_disarmed_and_restore_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with Interrupts() as interrupts:
        interrupts.armed = False
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert interrupts.pending == signal.SIGTERM
        interrupts.armed = True
        with pytest.raises(CommandInterrupted) as raised:  # noqa: PT012
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises at the next bytecode
    assert raised.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is before
    assert exit_code_of(KeyboardInterrupt()) == 130


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with Interrupts():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, previous)


def test_no_handlers_are_installed_off_the_main_thread() -> None:
    seen: list[Any] = []

    def work() -> None:
        with Interrupts():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [before]


def _test_database(alias: str) -> dict[str, Any]:
    """The running test's database, for a subprocess to use as ``default``."""
    return dict(connections[alias].settings_dict)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_a_real_signal_to_manage_py_rolls_back(
    alias: str, signum: int, code: int
) -> None:
    process = _manage(
        _test_database(alias), "probe", "--names", "Ann,Bob,Cy", "--sleep", "60"
    )
    assert process.stdout is not None
    try:
        # Wait until the rows are written (uncommitted), then interrupt.
        for line in process.stdout:
            if line.startswith("created"):
                break
        process.send_signal(signum)
        rest, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert line == "created 3 authors\n"
    assert process.returncode == code, err
    assert err == "Interrupted: rolled back, nothing was written.\n"
    assert "Traceback" not in err + rest
    assert Author.objects.count() == 0
