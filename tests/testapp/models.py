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
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
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


# --- Values: every field type, for the differential tests ------------------
# (tests/test_src/test_db/test_differential.py writes the same objects with
# Django's bulk_create/bulk_update and with winidjango, then compares the raw
# rows.)


class NoneMeansUnknownField(models.CharField):  # type: ignore[type-arg]
    """Stores ``None`` as the text "unknown": overrides ``get_prep_value``."""

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return "unknown"
        return super().get_prep_value(value)


class TimesTenField(models.IntegerField):  # type: ignore[type-arg]
    """Stores ten times the value, None as -1: overrides ``get_db_prep_save``."""

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if hasattr(value, "as_sql"):
            # An expression (Django's bulk_update passes its CASE here).
            return value
        if value is None:
            return -1
        return super().get_db_prep_save(value * 10, connection)


class ShoutingField(models.CharField):  # type: ignore[type-arg]
    """Upper-cases on save, "SILENCE" for None: overrides ``pre_save``."""

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        return "SILENCE" if value is None else str(value).upper()


class ReversedOnReadField(models.CharField):  # type: ignore[type-arg]
    """Reads values back reversed: overrides ``from_db_value`` only."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else value[::-1]


class _BlankForNone:
    """A descriptor that reads None as "blank"."""

    def __init__(self, field: Any) -> None:
        self.field = field

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname)
        return "blank" if value is None else value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class BlankDescriptorField(models.CharField):  # type: ignore[type-arg]
    """A Django-defined conversion behind a custom attribute descriptor."""

    descriptor_class = _BlankForNone


def default_label() -> str:
    return "from a callable"


class CodeTarget(models.Model):
    """A target of a foreign key by a unique non-key column."""

    code = models.CharField(max_length=10, unique=True)


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


class Everything(models.Model):
    """One field of each kind, nullable where it can be."""

    char = models.CharField(max_length=50, null=True)  # noqa: DJ001 (None is under test)
    text = models.TextField(null=True)  # noqa: DJ001 (None is under test)
    integer = models.IntegerField(null=True)
    big = models.BigIntegerField(null=True)
    small = models.SmallIntegerField(null=True)
    positive = models.PositiveIntegerField(null=True)
    real = models.FloatField(null=True)
    amount = models.DecimalField(max_digits=10, decimal_places=3, null=True)
    flag = models.BooleanField(null=True)
    strict_flag = models.BooleanField(default=False)
    day = models.DateField(null=True)
    moment = models.DateTimeField(null=True)
    clock = models.TimeField(null=True)
    span = models.DurationField(null=True)
    uid = models.UUIDField(null=True)
    data = models.JSONField(null=True)
    raw = models.BinaryField(null=True)
    email = models.EmailField(null=True)  # noqa: DJ001 (None is under test)
    slug = models.SlugField(null=True)  # noqa: DJ001 (None is under test)
    url = models.URLField(null=True)  # noqa: DJ001 (None is under test)
    ip = models.GenericIPAddressField(null=True)
    upload = models.FileField(null=True, upload_to="uploads")
    strict_upload = models.FileField(upload_to="uploads", blank=True)
    touched = models.DateTimeField(auto_now=True, null=True)
    touched_strict = models.DateTimeField(auto_now=True)
    made = models.DateTimeField(auto_now_add=True, null=True)
    made_strict = models.DateTimeField(auto_now_add=True)
    label = models.CharField(max_length=50, default=default_label)
    unknown = NoneMeansUnknownField(max_length=20, null=True)
    tenfold = TimesTenField(null=True)
    shouted = ShoutingField(max_length=20, null=True)
    mirrored = ReversedOnReadField(max_length=20, null=True)
    described = BlankDescriptorField(max_length=20, null=True)
    # No reverse accessor: Author's field list is under test elsewhere.
    author = models.ForeignKey(
        Author, on_delete=models.CASCADE, null=True, related_name="+"
    )
    target = models.ForeignKey(
        CodeTarget, on_delete=models.CASCADE, to_field="code", null=True
    )

    def __str__(self) -> str:
        return f"Everything {self.pk}"


class Seeded(models.Model):
    """A ``db_default``: the database returns it, so inserts take Django's path."""

    name = models.CharField(max_length=20, null=True)  # noqa: DJ001 (None is under test)
    seeded = models.IntegerField(db_default=7, null=True)
    seeded_strict = models.IntegerField(db_default=8)

    def __str__(self) -> str:
        return f"Seeded {self.pk}"


class OnlyKey(models.Model):
    """A model whose only field is its automatic key."""

    def __str__(self) -> str:
        return f"OnlyKey {self.pk}"


class Counter(models.Model):
    """Values for update expressions."""

    name = models.CharField(max_length=50)
    n = models.IntegerField(null=True)


# --- Tables named like the aliases winidjango's SQL introduces ------------
# The joined values of a bulk UPDATE get an alias ("v", or "v1", "v2", ...
# when the table or a column already has that name); these tables take
# those names, and columns named like the next candidates.


class TableV(models.Model):
    name = models.CharField(max_length=100)
    v1 = models.IntegerField(null=True)

    class Meta:
        db_table = "v"

    def __str__(self) -> str:
        return self.name


class Shop(models.Model):
    """A multi-table parent with its own auto_now field."""

    name = models.CharField(max_length=50)
    visits = models.IntegerField(default=0)
    changed = models.DateTimeField(auto_now=True, null=True)


class TableV1(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        db_table = "v1"

    def __str__(self) -> str:
        return self.name


class Bakery(Shop):
    """A multi-table child: ``name`` and ``visits`` live in Shop's table."""

    loaves = models.IntegerField(default=0)


class Measure(models.Model):
    """The field kinds the frame path converts beyond Sample's, for exactness tests."""

    name = models.CharField(max_length=20, default="")
    ratio = models.FloatField(null=True)
    span = models.DurationField(null=True)
    blob = models.BinaryField(null=True)
    huge = models.PositiveBigIntegerField(null=True)
    tiny = models.PositiveSmallIntegerField(null=True)
    doc = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    address = models.GenericIPAddressField(null=True)
    precise = models.DecimalField(max_digits=30, decimal_places=10, null=True)


class TableV2(models.Model):
    name = models.CharField(max_length=100)
    v = models.IntegerField(null=True, db_column="V")

    class Meta:
        db_table = "v2"

    def __str__(self) -> str:
        return self.name


# -- rejects: a database-only check constraint --------------------------------


class Score(models.Model):
    """A check constraint only the database enforces, and a unique label."""

    label = models.CharField(max_length=20, unique=True)
    points = models.IntegerField()
    author = models.ForeignKey(
        Author, on_delete=models.CASCADE, null=True, related_name="scores"
    )
    grade = models.CharField(
        max_length=1, choices=[("A", "A"), ("B", "B")], default="A"
    )
    rank = models.SmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points__gte=0), name="score_points_not_negative"
            )
        ]

    def __str__(self) -> str:
        return self.label


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


class SyncCode(models.Model):
    """A key of a text and an integer field (unique_together)."""

    region = models.CharField(max_length=10)
    number = models.IntegerField()
    label = models.CharField(max_length=50, default="")

    class Meta:
        unique_together = [("region", "number")]

    def __str__(self) -> str:
        return f"{self.region}/{self.number}"


class SyncReading(models.Model):
    """A composite key with a timestamp (a station's hourly reading)."""

    station = models.CharField(max_length=10)
    taken_at = models.DateTimeField()
    value = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["station", "taken_at"], name="testapp_reading_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.station} {self.taken_at}"


class SyncSlot(models.Model):
    """A key whose constraint PostgreSQL checks only at the commit."""

    code = models.CharField(max_length=10)
    day = models.DateField()
    label = models.CharField(max_length=50, default="")

    class Meta:
        required_db_features = ["supports_deferrable_unique_constraints"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "day"],
                name="testapp_slot_unique_deferred",
                deferrable=models.Deferrable.DEFERRED,
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.day}"


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
