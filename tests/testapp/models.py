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


class Publisher(models.Model):
    """A parent with a natural key, for the import command's sync."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.code


class Edition(models.Model):
    """Points to its publisher by the publisher's code (``to_field``)."""

    isbn = models.CharField(max_length=13, unique=True)
    publisher = models.ForeignKey(
        Publisher, on_delete=models.CASCADE, to_field="code", related_name="editions"
    )
    title = models.CharField(max_length=200)
    pages = models.IntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.isbn


class EditionCopy(models.Model):
    """A cascade child of Edition, for deletion previews."""

    edition = models.ForeignKey(
        Edition, on_delete=models.CASCADE, related_name="copies"
    )
    shelf = models.CharField(max_length=20)

    def __str__(self) -> str:
        return self.shelf


# -- sync (winidjango.src.db.sync) -------------------------------------------


class SyncParent(models.Model):
    """Parent with a natural key: ``code``; ``tenant`` scopes deletions."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    tenant = models.CharField(max_length=20, default="a")

    def __str__(self) -> str:
        return self.code


class SyncChild(models.Model):
    """Points to its parent by the parent's natural key (to_field)."""

    sku = models.CharField(max_length=20, unique=True)
    parent = models.ForeignKey(
        SyncParent, to_field="code", on_delete=models.CASCADE, related_name="children"
    )
    label = models.CharField(max_length=100, default="")
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    data = models.JSONField(null=True)
    moment = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return self.sku


class SyncItem(models.Model):
    """Points to its parent by primary key; unique per (parent, number)."""

    parent = models.ForeignKey(
        SyncParent, on_delete=models.CASCADE, related_name="items"
    )
    number = models.IntegerField()
    qty = models.IntegerField(default=0)

    class Meta:
        unique_together = [("parent", "number")]

    def __str__(self) -> str:
        return f"{self.parent_id}/{self.number}"


class SyncNote(models.Model):
    """A cascade two levels below SyncParent."""

    child = models.ForeignKey(SyncChild, on_delete=models.CASCADE, related_name="notes")
    text = models.CharField(max_length=50, default="")

    def __str__(self) -> str:
        return self.text


class SyncPin(models.Model):
    """PROTECT: a pinned child cannot be deleted."""

    child = models.ForeignKey(SyncChild, on_delete=models.PROTECT, related_name="pins")

    def __str__(self) -> str:
        return str(self.child_id)


class SyncHold(models.Model):
    """RESTRICT: a held child cannot be deleted (unless its parent cascades)."""

    child = models.ForeignKey(
        SyncChild, on_delete=models.RESTRICT, related_name="holds"
    )

    def __str__(self) -> str:
        return str(self.child_id)


class SyncArticle(BaseModel):
    """auto_now / auto_now_add timestamps and a unique slug."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    words = models.IntegerField(default=0)
    # NULL, not "": rows without a ref must not clash in the unique index.
    ref = models.CharField(max_length=20, unique=True, null=True)  # noqa: DJ001

    def __str__(self) -> str:
        return self.slug
