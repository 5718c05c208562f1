"""The benchmarked model: five columns of common types."""

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
