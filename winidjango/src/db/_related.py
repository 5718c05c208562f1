"""Related ids copied onto a chunk of objects before they are inserted.

Django's ``Model._prepare_related_fields_for_save`` runs per object and per
field, with several descriptor calls each; for a child model created right
after its parents (``bulk_create_bulks_in_steps``) it was about half of the
Python time. :class:`RelatedIds` does the same for plain foreign keys a field
at a time over a chunk, reading and writing the instance ``__dict__`` and the
field cache directly, and leaves every other kind of relation (one-to-one,
multi-column, generic, custom descriptors) to Django's own method.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.db.models import Model

from winidjango.src.db._validation import input_error
from winidjango.src.db.fields import get_model_meta


def _is_plain_foreign_key(field: Any) -> bool:
    """A single-column ``ForeignKey`` with Django's own descriptor."""
    return (
        type(field) is models.ForeignKey
        and len(field.related_fields) == 1
        and type(getattr(field.model, field.name, None))
        is models.ForeignKey.forward_related_accessor_class
    )


class RelatedIds:
    """Prepares the related ids of ``model`` objects for a bulk insert."""

    def __init__(self, model: type[Model], fields: Sequence[Any] | None = None) -> None:
        """Sort the relations into plain foreign keys and the others.

        ``fields`` limits the work to those fields (an update's), as the
        ``fields`` argument of Django's method does.
        """
        meta = get_model_meta(model)
        self.model = model
        self._fields = None if fields is None else list(fields)
        wanted = [
            field
            for field in [*meta.concrete_fields, *meta.private_fields]
            if field.is_relation and (fields is None or field in fields)
        ]
        self._plain = [field for field in wanted if _is_plain_foreign_key(field)]
        self._needs_django = len(self._plain) < len(wanted)

    def prepare(
        self,
        objs: Sequence[Model],
        operation_name: str,
        row_of: Callable[[int], int] | None = None,
    ) -> None:
        """Copy the id of each related object saved since it was assigned.

        Raises :class:`~winidjango.src.db.exceptions.BulkInputError` (a
        ``ValueError``, with Django's message) for a related object that is
        still unsaved, as Django's ``bulk_create`` refuses it. ``row_of(i)``
        is the 1-based bulk row of ``objs[i]`` (default ``i + 1``).
        """
        for field in self._plain:
            self._prepare_field(field, objs, operation_name, row_of)
        if self._needs_django:
            for index, obj in enumerate(objs):
                try:
                    obj._prepare_related_fields_for_save(  # type: ignore[attr-defined]
                        operation_name=operation_name, fields=self._fields
                    )
                except ValueError as error:
                    if "unsaved related object" not in str(error):
                        raise
                    raise self._unsaved_error(
                        str(error), None, index, row_of, None
                    ) from error

    def _unsaved_error(
        self,
        reason: str,
        field: str | None,
        index: int,
        row_of: Callable[[int], int] | None,
        related: Any,
    ) -> Exception:
        row = row_of(index) if row_of is not None else index + 1
        return input_error(
            self.model, reason, field=field, row=row, value=related, show_value=False
        )

    def _prepare_field(
        self,
        field: Any,
        objs: Sequence[Model],
        operation_name: str,
        row_of: Callable[[int], int] | None,
    ) -> None:
        cache_name = field.cache_name
        attname = field.attname
        target_attname = field.target_field.attname
        empty_values = field.empty_values
        for index, obj in enumerate(objs):
            cache = obj._state.fields_cache
            related = cache.get(cache_name)
            if not related:
                continue  # nothing assigned (or None): nothing to copy
            if not related._is_pk_set():
                reason = (
                    f"{operation_name}() prohibited to prevent data loss due to "
                    f"unsaved related object '{field.name}'."
                )
                raise self._unsaved_error(reason, field.name, index, row_of, related)
            state = obj.__dict__
            if attname not in state:
                # A deferred id: Django's method loads it as it sees fit.
                obj._prepare_related_fields_for_save(  # type: ignore[attr-defined]
                    operation_name=operation_name, fields=self._fields
                )
                continue
            target = getattr(related, target_attname)
            if state[attname] in empty_values:
                # Saved after it was assigned: take its new key.
                state[attname] = target
            elif target != state[attname]:
                # The id was changed by hand: the cached object is stale.
                del cache[cache_name]
