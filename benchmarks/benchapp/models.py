"""The benchmarked models.

``Row``: five columns of common types, for create, update, delete and memory.
``Parent`` <- ``Child`` <- ``GrandChild``: a foreign-key chain for ``chain``.
"""

from django.db import models


class Row(models.Model):
    name = models.CharField(max_length=100)
    number = models.IntegerField()
    amount = models.FloatField()
    flag = models.BooleanField()
    note = models.TextField()

    class Meta:
        app_label = "benchapp"

    def __str__(self) -> str:
        return self.name


class Parent(models.Model):
    name = models.CharField(max_length=100)
    number = models.IntegerField()

    class Meta:
        app_label = "benchapp"

    def __str__(self) -> str:
        return self.name


class Child(models.Model):
    parent = models.ForeignKey(Parent, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    number = models.IntegerField()

    class Meta:
        app_label = "benchapp"

    def __str__(self) -> str:
        return self.name


class GrandChild(models.Model):
    child = models.ForeignKey(Child, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    number = models.IntegerField()

    class Meta:
        app_label = "benchapp"

    def __str__(self) -> str:
        return self.name


class SyncRow(models.Model):
    """The ``sync`` operation's table: a unique text key and five columns."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    number = models.IntegerField()
    amount = models.FloatField()
    flag = models.BooleanField()
    note = models.TextField()

    class Meta:
        app_label = "benchapp"

    def __str__(self) -> str:
        return self.code


class ImportRow(models.Model):
    """The ``import`` memory benchmark's table: six columns, no key."""

    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    number = models.IntegerField()
    amount = models.FloatField()
    flag = models.BooleanField()
    note = models.TextField()

    class Meta:
        app_label = "benchapp"

    def __str__(self) -> str:
        return self.code
