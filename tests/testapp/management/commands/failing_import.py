"""The library import reading a file that does not exist (hook error tests)."""

import polars as pl

from tests.testapp.management.commands import import_library


class Command(import_library.Command):
    help = "Fail in the read step: the file is not there."

    def handle_import(self) -> pl.DataFrame:
        return pl.read_csv("/nonexistent/winidjango/authors.csv")
