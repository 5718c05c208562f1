from argparse import ArgumentParser
from collections.abc import Iterable, Mapping, Sequence

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from library.cleaning import BookCleaningDF
from library.models import Author, Book
from winidjango.src.commands.import_data import ImportDataBaseCommand


class Command(ImportDataBaseCommand):
    help = "Import authors and books from a CSV file."

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("csv_path", help="The CSV file to import.")

    def handle_import(self) -> pl.DataFrame:
        return pl.read_csv(self.get_option("csv_path"))

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return BookCleaningDF

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> dict[type[Model], Iterable[Model]]:
        authors = {a.name: a for a in Author.objects.using(self.database)}
        books = {(b.title, b.author_id): b for b in Book.objects.using(self.database)}
        new_books = []
        for row in df.iter_rows(named=True):
            name = row[BookCleaningDF.AUTHOR]
            author = authors.setdefault(name, Author(name=name))
            title = row[BookCleaningDF.TITLE]
            book = books.get((title, author.pk)) or Book(
                title=title, author=author, pages=row[BookCleaningDF.PAGES]
            )
            new_books.append(book)
        return {Author: list(authors.values()), Book: new_books}

    def get_delete_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        return {Author: ["name"], Book: ["title", "author"]}
