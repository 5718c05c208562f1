from argparse import ArgumentParser

import polars as pl
from django.core.management.base import CommandError
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from library.cleaning import BookCleaningDF
from library.models import Author, Book
from winidjango.src.commands.import_data import ImportDataBaseCommand
from winidjango.src.db.imports import without_saved_rows


class Command(ImportDataBaseCommand):
    help = "Import the books of known authors from a CSV file, as a frame."

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("csv_path", help="The CSV file to import.")

    def handle_import(self) -> pl.DataFrame:
        return pl.read_csv(self.get_option("csv_path"))

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return BookCleaningDF

    def get_bulks_by_model(self, df: pl.DataFrame) -> dict[type[Model], pl.DataFrame]:
        # Author name -> id, one query; the frame holds ids, not objects.
        authors = pl.DataFrame(
            list(Author.objects.using(self.database).values_list("name", "pk")),
            schema={BookCleaningDF.AUTHOR: pl.String, "author_id": pl.Int64},
            orient="row",
        )
        books = df.join(authors, on=BookCleaningDF.AUTHOR, how="left")
        unknown = books.filter(pl.col("author_id").is_null())
        if unknown.height:
            names = ", ".join(sorted(set(unknown[BookCleaningDF.AUTHOR])))
            raise CommandError(f"Unknown authors (import them first): {names}")
        # One column per field of Book: title, author_id, pages; the books
        # already saved (same title and author) are left out.
        books = books.select(BookCleaningDF.TITLE, "author_id", BookCleaningDF.PAGES)
        return {
            Book: without_saved_rows(
                Book, books, key=["title", "author"], using=self.database
            )
        }
