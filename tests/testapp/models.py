"""Models that cover the relations winidjango must handle.

- FK chain three levels deep: Author -> Book -> Review (CASCADE)
- SET_NULL: Book.editor -> Author
- PROTECT: City.country -> Country (natural primary key)
- RESTRICT: Loan.book -> Book
- self-FK: Category.parent
- many-to-many: Book.tags -> Tag (unique name)
- multi-table inheritance: Restaurant(Place)
- BaseModel subclass: Article
- choices, a callable default and a small integer range: Ticket
"""

import uuid

from django.db import models

from winidjango.src.db.models import BaseModel


class Author(models.Model):
    name = models.CharField(max_length=100)
    birth_year = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name"], name="unique_tag_name")]

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    editor = models.ForeignKey(
        Author,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="edited_books",
    )
    pages = models.IntegerField(default=0)
    tags = models.ManyToManyField(Tag, blank=True, related_name="books")

    def __str__(self) -> str:
        return self.title


class Review(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="reviews")
    rating = models.IntegerField()
    text = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.rating} for {self.book_id}"


class Loan(models.Model):
    book = models.ForeignKey(Book, on_delete=models.RESTRICT, related_name="loans")
    borrower = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.borrower


class Category(models.Model):
    name = models.CharField(max_length=100)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )

    def __str__(self) -> str:
        return self.name


class Country(models.Model):
    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.code


class City(models.Model):
    name = models.CharField(max_length=100)
    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, related_name="cities"
    )

    def __str__(self) -> str:
        return self.name


class Place(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Restaurant(Place):
    serves_pizza = models.BooleanField(default=False)


class Article(BaseModel):
    title = models.CharField(max_length=200)

    class Meta(BaseModel.Meta):
        db_table = "testapp_article"


class Sample(models.Model):
    """One column of each common type, for value round trips."""

    name = models.CharField(max_length=20)
    text = models.TextField(blank=True, default="")
    number = models.IntegerField(null=True)
    big = models.BigIntegerField(null=True)
    amount = models.DecimalField(max_digits=12, decimal_places=4, null=True)
    flag = models.BooleanField(null=True)
    day = models.DateField(null=True)
    moment = models.DateTimeField(null=True)
    clock = models.TimeField(null=True)
    uid = models.UUIDField(null=True)
    data = models.JSONField(null=True)

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    """Fields whose constraints live in Django, not (only) in the database."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    code = models.UUIDField(default=uuid.uuid4, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    priority = models.SmallIntegerField(default=3)
    title = models.CharField(max_length=30, default="untitled")

    def __str__(self) -> str:
        return self.title


class FrameValue(models.Model):
    """Awkward values a frame loader must store exactly (text, bytes, floats)."""

    text = models.TextField(null=True)  # noqa: DJ001 (NULL and "" both tested)
    blob = models.BinaryField(null=True)
    ratio = models.FloatField(null=True)
    amount = models.DecimalField(max_digits=20, decimal_places=6, null=True)
    day = models.DateField(null=True)
    moment = models.DateTimeField(null=True)
    clock = models.TimeField(null=True)
    count = models.IntegerField(default=7)
    wait = models.DurationField(null=True)

    def __str__(self) -> str:
        return str(self.text)


class Excerpt(models.Model):
    """RESTRICT's special case: restricted through ``book``, cascaded by ``author``.

    Deleting the author deletes the excerpt along its books (Django allows
    it); deleting only the book is refused.
    """

    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="+")
    book = models.ForeignKey(Book, on_delete=models.RESTRICT, related_name="+")
    text = models.TextField(default="")

    def __str__(self) -> str:
        return self.text
