"""An error inside an import step is a CommandError naming the step and hook.

Each test breaks one hook of the library import (``import_library``) and
checks the message, the chained original exception, and that nothing was
written.
"""

import io
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Model

from tests.testapp.management.commands import import_library
from tests.testapp.models import Author, Book
from winidjango.src.commands.base.base import hook_errors

ROOT = Path(__file__).resolve().parents[3]


class MissingFile(import_library.Command):
    def handle_import(self) -> pl.DataFrame:
        return pl.read_csv("/nonexistent/winidjango/authors.csv")


class BrokenCleaning(import_library.Command):
    def clean_data(self, df: pl.DataFrame) -> pl.DataFrame:
        cleaned = super().clean_data(df)
        return cleaned.lazy_frame_that_does_not_exist  # type: ignore[attr-defined,no-any-return]


class MissingColumn(import_library.Command):
    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> dict[type[Model], Iterable[Model]]:
        return {Author: [Author(name=row["no_such_column"]) for row in df.to_dicts()]}


class BuggyWriter(import_library.Command):
    def import_to_db(self, bulks: Any) -> Any:
        created = super().import_to_db(bulks)
        # A bug after the rows went in: they must be rolled back.
        return created[Book][99]  # type: ignore[index]


class BuggyWriterTypeError(import_library.Command):
    def import_to_db(self, bulks: Any) -> Any:
        created = super().import_to_db(bulks)
        return len(created, "extra")  # type: ignore[call-arg]


class BuggyMatchFields(import_library.Command):
    def get_delete_match_fields(self) -> Any:
        return {Author: self.match_fields_from_settings}  # type: ignore[attr-defined]


class BuggySourceKeys(import_library.Command):
    def get_source_keys(self, df: Any) -> Any:
        raise RuntimeError("the preview service is down")


def run(command: Any, alias: str, *args: str) -> None:
    call_command(
        command, *args, database=alias, stdout=io.StringIO(), stderr=io.StringIO()
    )


@pytest.mark.parametrize(
    ("command", "args", "message", "original"),
    [
        (
            MissingFile,
            (),
            r"^read step: handle_import\(\) failed: FileNotFoundError: ",
            FileNotFoundError,
        ),
        (
            BrokenCleaning,
            (),
            r"^clean step: clean_data\(\) failed: AttributeError: .*"
            r"lazy_frame_that_does_not_exist",
            AttributeError,
        ),
        (
            MissingColumn,
            (),
            r"^build step: get_bulks_by_model\(\) failed: KeyError: "
            r"'no_such_column'",
            KeyError,
        ),
        (
            BuggyWriter,
            (),
            r"^write step: import_to_db\(\) failed: IndexError: "
            r"list index out of range",
            IndexError,
        ),
        (
            BuggyWriterTypeError,
            (),
            r"^The objects could not be written: TypeError: len\(\) takes",
            TypeError,
        ),
        (
            BuggyMatchFields,
            ("--delete", "--yes"),
            r"^keys step: get_delete_match_fields\(\) failed: AttributeError: ",
            AttributeError,
        ),
        (
            BuggySourceKeys,
            ("--delete", "--yes"),
            r"^source keys step: get_source_keys\(\) failed: RuntimeError: "
            r"the preview service is down",
            RuntimeError,
        ),
    ],
)
def test_a_failing_hook_names_its_step_and_keeps_the_original(
    alias: str,
    command: type[import_library.Command],
    args: tuple[str, ...],
    message: str,
    original: type[BaseException],
) -> None:
    with pytest.raises(CommandError, match=message) as error:
        run(command(), alias, *args)
    assert isinstance(error.value.__cause__, original)
    assert Author.objects.count() == Book.objects.count() == 0


def test_command_errors_and_interrupts_pass_unchanged() -> None:
    with pytest.raises(CommandError, match=r"^as is$"), hook_errors("read", "x"):
        raise CommandError("as is")
    with pytest.raises(KeyboardInterrupt), hook_errors("read", "x"):
        raise KeyboardInterrupt
    with pytest.raises(CommandError, match=r"^check step failed: ValueError: v"):  # noqa: SIM117
        with hook_errors("check"):
            raise ValueError("v")


def test_the_command_line_shows_one_line_or_the_full_chain_with_traceback() -> None:
    env = {**os.environ, "PYTHONPATH": "."}

    def manage(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "django", "failing_import", *argv]
        return subprocess.run(
            [*command, "--skip-checks", "--settings", "tests.settings"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    plain = manage()
    assert plain.returncode == 1
    assert plain.stderr.startswith(
        "CommandError: read step: handle_import() failed: FileNotFoundError: "
    )
    assert "Traceback" not in plain.stderr
    traced = manage("--traceback")
    assert traced.returncode == 1
    # The original exception and where it was raised, then the CommandError.
    assert "FileNotFoundError" in traced.stderr
    assert "failing_import.py" in traced.stderr
    assert "The above exception was the direct cause" in traced.stderr
