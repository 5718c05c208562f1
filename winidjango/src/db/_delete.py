"""Chunked deletes through Django's Collector, and deletion previews."""

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.db.models import Model
from django.db.models.deletion import Collector

from winidjango.src.db._backends import get_writer
from winidjango.src.db._validation import SavedChunkChecks, check_instances, check_saved
from winidjango.src.db._values import passthrough_type
from winidjango.src.db.fields import get_model_meta


class DeletePlan[M: Model](SavedChunkChecks):
    """Deletes chunks of ``model`` objects with cascades, signals and counts."""

    requires_saved = "deleted"

    def __init__(self, model: type[M], alias: str, connection: Any) -> None:
        """Decide once whether deletes of ``model`` can skip the Collector.

        Django's own test: no delete signals listened to, no relation that
        cascades or sets anything, no multi-table parents. Then a plain
        ``DELETE ... WHERE pk IN (...)`` per chunk does exactly what the
        Collector would, without building querysets.
        """
        self.model = model
        self._set_up_checks(model)
        self.alias = alias
        meta = get_model_meta(model)
        self.writer = get_writer(connection)
        self.fast = not self.writer.uses_django_sql and Collector(
            using=alias
        ).can_fast_delete(model._base_manager.all())
        self.label = meta.label
        self.table = meta.db_table
        assert meta.pk is not None
        self.pk_field = meta.pk
        self.pk_column = str(meta.pk.column)
        # Keys of this type go into the statement as they are.
        self.pk_passthrough = passthrough_type(meta.pk)

    def prepare(self, chunk: list[M]) -> list[M]:
        """Check the chunk: right model, every object saved."""
        self.check_chunk(chunk)
        return chunk

    def execute(self, chunk: list[M]) -> tuple[int, dict[str, int]]:
        """Delete the chunk, through the Collector unless nothing depends on it."""
        if self.fast:
            return self._delete_directly(chunk)
        return self._delete_collected(chunk)

    def _delete_directly(self, chunk: list[M]) -> tuple[int, dict[str, int]]:
        """One backend DELETE by key for the chunk; no per-object Python work.

        Keys are read with one ``map`` and used as they are when all have the
        type the field stores unchanged (an ``int`` for an integer key);
        duplicates are left to the database, which deletes a row once.
        """
        connection = connections[self.alias]
        keys = list(map(self._key_of, chunk))
        plain = self.pk_passthrough
        if not {plain}.issuperset(map(type, keys)):
            prep = self.pk_field.get_db_prep_value
            keys = [
                key if type(key) is plain else prep(key, connection) for key in keys
            ]
        with connection.cursor() as cursor:
            deleted = self.writer.delete_rows(cursor, self.table, self.pk_column, keys)
        return deleted, {self.label: deleted}

    def _delete_collected(self, chunk: list[M]) -> tuple[int, dict[str, int]]:
        """Delete the chunk and everything that cascades from it.

        The chunk is handed to the Collector as a queryset, as
        ``QuerySet.delete()`` does, so that a model without cascades or
        delete signals is removed with one DELETE instead of row by row.
        """
        alias = self.alias
        queryset = self.model._base_manager.using(alias).filter(
            pk__in=[obj.pk for obj in chunk]
        )
        collector = Collector(using=alias, origin=queryset)
        collector.collect(queryset)
        return collector.delete()


def sum_delete_counts(
    results: Iterable[tuple[int, dict[str, int]]],
) -> tuple[int, dict[str, int]]:
    """Add up the ``(total, {label: count})`` results of several deletes."""
    total = 0
    per_model: Counter[str] = Counter()
    for chunk_total, chunk_counts in results:
        total += chunk_total
        per_model.update(chunk_counts)
    return total, {label: count for label, count in per_model.items() if count}


class _PreviewCollector(Collector):
    """A Collector that loads every affected object instead of fast-deleting.

    Fast deletes keep querysets, not objects; a preview must list the objects.
    """

    def can_fast_delete(self, *args: Any, **kwargs: Any) -> bool:
        return False


def preview_deletion(
    entries: dict[type[Model], list[Model]], alias: str
) -> dict[type[Model], set[Model]]:
    """Collect what deleting ``entries`` would remove, running only SELECTs.

    Raises ``ProtectedError`` or ``RestrictedError`` exactly as a real delete
    would, since the same Collector logic decides.
    """
    collector = _PreviewCollector(using=alias)
    for model, objs in entries.items():
        check_instances(model, objs)
        check_saved(objs, "deleted")
        if objs:
            collector.collect(objs)
    return {model: set(objs) for model, objs in collector.data.items() if objs}
