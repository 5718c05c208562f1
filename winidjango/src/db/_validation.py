"""Checks that refuse bad input to the bulk functions before anything is written."""

from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model

from winidjango.src.db.exceptions import BulkInputError, BulkInputTypeError
from winidjango.src.db.fields import get_model_meta

_NO_VALUE: Any = object()


def input_error(
    model: type[Model],
    reason: str,
    *,
    field: str | None = None,
    row: int | None = None,
    value: Any = _NO_VALUE,
    type_error: bool = False,
    show_value: bool = True,
) -> BulkInputError:
    """A :class:`BulkInputError` whose message names model, field, row and value.

    ``row`` is 1-based. ``type_error`` makes it a :class:`BulkInputTypeError`,
    for refusals that were always ``TypeError`` (wrong class, expression).
    """
    where = model.__name__ + (f".{field}" if field else "")
    if row is not None:
        where += f", row {row}"
    shown = "" if value is _NO_VALUE or not show_value else f" (value {value!r})"
    message = f"{where}: {reason}{shown}"
    error_class = BulkInputTypeError if type_error else BulkInputError
    return error_class(
        message,
        model=model,
        field=field,
        row=row,
        value=None if value is _NO_VALUE else value,
        reason=reason,
    )


def chunk_offset(chunk: Sequence[Any]) -> int:
    """How many objects of the bulk came before ``chunk`` (0 if unknown)."""
    return getattr(chunk, "offset", 0)


def bulk_row(chunk: Sequence[Any], position: int) -> int:
    """The 1-based row in the caller's bulk of ``chunk[position]``."""
    numbers = getattr(chunk, "numbers", None)
    if numbers is not None:
        return int(numbers[position])
    return chunk_offset(chunk) + position + 1


def row_finder(chunk: Sequence[Any], objs: Sequence[Any]) -> Callable[[int], int]:
    """``row_of(index)``: the 1-based bulk row of ``objs[index]``, in ``chunk``.

    ``objs`` is part of ``chunk`` (the objects with a preset key, the first
    copies of each row). Only called to word an error, so a linear search is
    fine.
    """

    def row_of(index: int) -> int:
        target = objs[index]
        for position, obj in enumerate(chunk):
            if obj is target:
                return bulk_row(chunk, position)
        return bulk_row(chunk, index)

    return row_of


class OffsetChunk[T](list[T]):
    """A chunk that knows how many objects of its bulk came before it.

    Lets a check that runs on one chunk report 1-based row numbers of the
    whole bulk, not of the chunk.
    """

    offset: int = 0
    #: The chunk as read, when this one leaves some of its objects out.
    original: "list[T] | None" = None
    #: The 1-based bulk row of each object, when the chunk's objects are not
    #: consecutive rows of the bulk (saved objects skipped).
    numbers: list[int] | None = None


def check_step(step: object) -> int:
    """Return ``step`` if it is an int >= 1; raise otherwise.

    ``step=0`` must not quietly write nothing, and ``True`` is not a size.
    """
    if isinstance(step, bool) or not isinstance(step, int):
        message = f"step must be an int >= 1, got {step!r} ({type(step).__name__})"
        raise TypeError(message)
    if step < 1:
        message = f"step must be an int >= 1, got {step}"
        raise ValueError(message)
    return step


def check_threads(threads: object) -> None:
    """Refuse a thread count that is not ``None`` or an int >= 1."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        message = f"threads must be None or an int >= 1, got {threads!r}"
        raise ValueError(message)


def check_model(model: object) -> None:
    """Refuse anything that is not a concrete Django model class."""
    if not (isinstance(model, type) and issubclass(model, Model)):
        message = f"expected a Django model class, got {model!r}"
        raise TypeError(message)
    if get_model_meta(model).abstract:
        message = f"{model.__name__} is abstract and has no table"
        raise TypeError(message)


def check_instances(
    model: type[Model],
    objs: Iterable[Any],
    *,
    offset: int = 0,
    rows: Sequence[int] | None = None,
) -> None:
    """Refuse objects that would not write to ``model``'s own table.

    A proxy of ``model`` is fine (same table); a multi-table child or an
    unrelated model is not: its fields live in other tables, or its pk could
    hit a different row of ``model``'s table.
    """
    concrete = get_model_meta(model).concrete_model
    objs = list(objs)
    # Checked per class, not per object: a bulk holds one or two classes.
    bad_classes = {
        cls
        for cls in set(map(type, objs))
        if not issubclass(cls, Model)
        or get_model_meta(cls).concrete_model is not concrete
    }
    if not bad_classes:
        return
    for position, obj in enumerate(objs):
        if type(obj) in bad_classes:
            row = rows[position] if rows is not None else offset + position + 1
            reason = (
                f"{obj!r} ({type(obj).__name__}) is not an instance of {model.__name__}"
            )
            raise input_error(
                model, reason, row=row, value=obj, type_error=True, show_value=False
            )


def check_saved(
    objs: Iterable[Model],
    operation: str,
    *,
    offset: int = 0,
    model: type[Model] | None = None,
) -> None:
    """Refuse unsaved objects for operations that need rows to exist."""
    for row, obj in enumerate(objs, start=offset + 1):
        if obj.pk is None:
            model = model if model is not None else type(obj)
            reason = (
                f"{obj!r} has no primary key: unsaved objects cannot be {operation}"
            )
            raise input_error(model, reason, row=row, value=obj, show_value=False)


class ChunkChecks:
    """The per-chunk input checks of a bulk plan, skipped if done up front.

    ``bulk.py`` checks a list or tuple in full before writing anything and
    then sets :attr:`checked_up_front`, so the chunks are not checked twice.
    """

    model: type[Model]
    #: Why objects must be saved (``"updated"``, ``"deleted"``), or None.
    requires_saved: str | None = None
    checked_up_front = False

    def check_chunk(self, chunk: Sequence[Model]) -> None:
        """Refuse objects of another model, and unsaved ones where that matters."""
        if self.checked_up_front:
            return
        offset = chunk_offset(chunk)
        check_instances(
            self.model, chunk, offset=offset, rows=getattr(chunk, "numbers", None)
        )
        if self.requires_saved:
            check_saved(chunk, self.requires_saved, offset=offset, model=self.model)

    def check_up_front(self, bulk: Sequence[Model]) -> None:
        """Check a whole list before the first write."""
        self.checked_up_front = False
        self.check_chunk(bulk)
        self.check_values_up_front(bulk)
        self.checked_up_front = True

    def check_values_up_front(self, bulk: Sequence[Model]) -> None:
        """Refusals of values that are cheap to find in a whole list (none here).

        Those that need the values converted are found chunk by chunk.
        """


class SavedChunkChecks(ChunkChecks):
    """:class:`ChunkChecks` for saved objects, at C speed for a good chunk.

    The same refusals as ``check_instances`` and ``check_saved``, with the
    same messages, but a chunk that passes costs two ``map`` calls instead of
    several attribute lookups per object: whether an object belongs to the
    model depends only on its class, so each class is checked once and
    remembered, and the keys are read with one ``attrgetter``. Only a chunk
    that fails is walked object by object, to name the culprit. Used by the
    update and delete plans.
    """

    _known_classes: set[type]
    _concrete_model: type[Model] | None
    _key_of: Callable[[Any], Any]

    def _set_up_checks(self, model: type[Model]) -> None:
        meta = get_model_meta(model)
        assert meta.pk is not None  # every concrete model has one
        self._known_classes = set()
        self._concrete_model = meta.concrete_model
        # What Model.pk reads, without the property and method call.
        self._key_of = attrgetter(meta.pk.attname)

    def _belongs(self, cls: type) -> bool:
        """What ``check_instances`` asks of each object, asked of its class."""
        return (
            issubclass(cls, Model)
            and get_model_meta(cls).concrete_model is self._concrete_model
        )

    def check_chunk(self, chunk: Sequence[Model]) -> None:
        """Refuse objects of another model, and unsaved ones."""
        if self.checked_up_front:
            return
        offset = chunk_offset(chunk)
        unknown = set(map(type, chunk)) - self._known_classes
        if unknown:
            if not all(map(self._belongs, unknown)):
                # Raises, naming the object.
                check_instances(self.model, chunk, offset=offset)
            self._known_classes |= unknown
        if self.requires_saved and None in map(self._key_of, chunk):
            check_saved(chunk, self.requires_saved, offset=offset, model=self.model)


def resolve_update_fields(
    model: type[Model], update_fields: Sequence[str]
) -> list[Any]:
    """Turn field names into concrete, non-pk fields of ``model``, or raise.

    A field inherited from a multi-table parent is allowed: it is written to
    the parent's table. Fields with ``auto_now=True`` (e.g.
    ``BaseModel.updated_at``) of the model's own table, and of any parent
    table an update field lives in, are added, because a ``save()`` would
    refresh them too.
    """
    if isinstance(update_fields, str):
        message = "update_fields must be a list of field names, not a string"
        raise TypeError(message)
    names = list(update_fields)
    if not names:
        message = "update_fields must name at least one field"
        raise BulkInputError(message, model=model)
    meta = get_model_meta(model)
    fields = []
    for name in dict.fromkeys(names):
        try:
            field = meta.get_field(name)
        except FieldDoesNotExist:
            message = f"{model.__name__} has no field named {name!r}"
            raise BulkInputError(message, model=model, field=name) from None
        if field.many_to_many or field.one_to_many or not field.concrete:
            message = (
                f"{model.__name__}.{name} is a many-to-many or reverse relation; "
                "bulk updates can only set columns of the model's own table"
            )
            raise BulkInputError(message, model=model, field=name)
        if field.primary_key or _is_parent_key(meta, field):
            message = (
                f"{model.__name__}.{name} is the primary key and cannot be updated"
            )
            raise BulkInputError(message, model=model, field=name)
        fields.append(field)
    tables = {meta.concrete_model} | {field.model for field in fields}
    fields += [
        field
        for field in meta.concrete_fields
        if getattr(field, "auto_now", False)
        and field not in fields
        and field.model in tables
    ]
    return fields


def _is_parent_key(meta: Any, field: Any) -> bool:
    """Whether ``field`` is the primary key of a multi-table parent.

    Django's ``bulk_update`` refuses every table's key, not only the model's.
    """
    return any(field is get_model_meta(parent).pk for parent in meta.all_parents)
