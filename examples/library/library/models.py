"""The models of the documentation's examples: a small library.

Every example in ``docs/`` and ``README.md`` imports its models from here
(``from library.models import Author, Book``), and ``tests/test_docs.py`` runs
the examples against them, so a page cannot use a field these models lack.

- Author -> Book -> Review: a foreign key chain (CASCADE).
- Review.editor -> Author: SET_NULL (updated, not deleted, by a delete).
- Loan.book -> Book: PROTECT (a loaned book blocks deleting its author).
- Book.tags <-> Tag: many-to-many.
- Natural keys: Author.name, Book.isbn (optional; NULLs never clash),
  Tag.name and Country.code, which City.country points at (``to_field``).
- Review is a BaseModel: created_at, updated_at and ``Review(1)`` as str.
"""

from django.db import models

from winidjango.src.db.models import BaseModel


class Author(models.Model):
    name = models.CharField(max_length=100, unique=True)
    birth_year = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    pages = models.IntegerField(default=0)
    isbn = models.CharField(max_length=13, unique=True, null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="books")

    def __str__(self) -> str:
        return self.title


class Review(BaseModel):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="reviews")
    editor = models.ForeignKey(
        Author,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="edited_reviews",
    )
    text = models.TextField(blank=True)

    class Meta(BaseModel.Meta):
        verbose_name = "book review"


class Loan(models.Model):
    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="loans")
    borrower = models.CharField(max_length=100)

    def __str__(self) -> str:
        return f"{self.book} to {self.borrower}"


class Country(models.Model):
    code = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.code


class City(models.Model):
    name = models.CharField(max_length=100)
    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, to_field="code", related_name="cities"
    )

    def __str__(self) -> str:
        return self.name
