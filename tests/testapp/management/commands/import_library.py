"""An import command with ``--delete`` support and a replaceable source.

Rows are ``author, title, pages``; every distinct author becomes an Author
and every row a Book, reusing the saved author of the same name and the saved
book of the same title and author, so that importing the same data twice adds
nothing. Tests set ``command.source`` to the frame they want imported.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import polars as pl
from django.db.models import Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

from tests.testapp.models import Author, Book
from winidjango.src.commands.import_data import ImportDataBaseCommand

SAMPLE = pl.DataFrame(
    {
        "author": ["Ann", "Ann", "Bob"],
        "title": ["First", "Second", "Third"],
        "pages": [100, 200, 300],
    }
)


class LibraryCleaningDF(CleaningDF):
    AUTHOR = "author_name"
    TITLE = "title"
    PAGES = "pages"

    @classmethod
    def get_rename_map(cls) -> dict[str, str]:
        return {cls.AUTHOR: "author", cls.TITLE: "title", cls.PAGES: "pages"}

    @classmethod
    def get_col_dtype_map(cls) -> dict[str, type[pl.DataType]]:
        return {cls.AUTHOR: pl.Utf8, cls.TITLE: pl.Utf8, cls.PAGES: pl.Int64}

    @classmethod
    def get_drop_null_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.TITLE,),)

    @classmethod
    def get_fill_null_map(cls) -> dict[str, Any]:
        return {cls.AUTHOR: "Anonymous", cls.TITLE: pl.lit(None), cls.PAGES: 0}

    @classmethod
    def get_sort_cols(cls) -> tuple[tuple[str, bool], ...]:
        return ((cls.AUTHOR, False), (cls.TITLE, False))

    @classmethod
    def get_unique_subsets(cls) -> tuple[tuple[str, ...], ...]:
        return ((cls.AUTHOR, cls.TITLE),)

    @classmethod
    def get_no_null_cols(cls) -> tuple[str, ...]:
        return (cls.AUTHOR, cls.TITLE)

    @classmethod
    def get_col_converter_map(cls) -> dict[str, Callable[[pl.Series], pl.Series]]:
        return {
            cls.AUTHOR: cls.skip_col_converter,
            cls.TITLE: cls.skip_col_converter,
            cls.PAGES: cls.skip_col_converter,
        }

    @classmethod
    def get_add_on_duplicate_cols(cls) -> tuple[str, ...]:
        return (cls.PAGES,)

    @classmethod
    def get_col_precision_map(cls) -> dict[str, int]:
        return {}


class Command(ImportDataBaseCommand):
    help = "Import authors and books from a frame of (author, title, pages)."

    source: pl.DataFrame = SAMPLE

    def handle_import(self) -> pl.DataFrame:
        return self.source

    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        return LibraryCleaningDF

    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> dict[type[Model], Iterable[Model]]:
        saved_authors = {
            author.name: author
            for author in Author.objects.using(self.database).order_by("pk")
        }
        saved_books = {
            (book.title, book.author_id): book
            for book in Book.objects.using(self.database).order_by("pk")
        }
        authors: dict[str, Author] = {}
        books = []
        for row in df.iter_rows(named=True):
            name = row[LibraryCleaningDF.AUTHOR]
            if name not in authors:
                authors[name] = saved_authors.get(name) or Author(name=name)
            author = authors[name]
            title = row[LibraryCleaningDF.TITLE]
            book = saved_books.get((title, author.pk))
            if book is None:
                book = Book(
                    title=title, pages=row[LibraryCleaningDF.PAGES], author=author
                )
            books.append(book)
        return {Author: list(authors.values()), Book: books}

    def get_delete_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        return {Author: ["name"], Book: ["title", "author"]}
