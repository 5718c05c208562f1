"""Model helpers: dependency ordering, content hashing and ``BaseModel``."""

from collections.abc import Hashable, Iterable, Sequence
from graphlib import CycleError, TopologicalSorter
from typing import Self

from django.db import models
from django.db.models import Model
from django.utils.hashable import make_hashable

from winidjango.src.db.fields import AnyField, get_model_meta


def _forward_dependencies(model: type[Model]) -> list[type[Model]]:
    """Models that ``model`` points at through a concrete FK or one-to-one."""
    dependencies: list[type[Model]] = []
    for field in get_model_meta(model).concrete_fields:
        related = field.related_model
        if (field.many_to_one or field.one_to_one) and isinstance(related, type):
            dependencies.append(related)
    return dependencies


def topological_sort_models[M: type[Model]](models: Iterable[M]) -> list[M]:
    """Order ``models`` so that every model comes after the models it points to.

    Only ``ForeignKey`` and ``OneToOneField`` relations (including the parent
    link of multi-table inheritance) between the given models count;
    self-references are ignored, because a model cannot wait for itself. Among
    models that do not depend on each other the input order is kept, so the
    result is deterministic.

    Raises:
        graphlib.CycleError: the models' foreign keys form a cycle; the message
            names the models in it.

    Examples:
        >>> from django.contrib.auth.models import Group, Permission
        >>> from django.contrib.contenttypes.models import ContentType
        >>> topological_sort_models([Group, Permission, ContentType])
        [<class '...ContentType'>, <class '...Group'>, <class '...Permission'>]
    """
    ordered_input = list(dict.fromkeys(models))
    position = {model: index for index, model in enumerate(ordered_input)}
    sorter: TopologicalSorter[M] = TopologicalSorter()
    for model in ordered_input:
        dependencies = [
            dependency
            for dependency in _forward_dependencies(model)
            if dependency in position and dependency is not model
        ]
        sorter.add(model, *dependencies)
    try:
        sorter.prepare()
    except CycleError as error:
        cycle: list[M] = error.args[1]
        names = " -> ".join(get_model_meta(model).label for model in cycle)
        message = f"the foreign keys of these models form a cycle: {names}"
        raise CycleError(message, cycle) from error
    # graphlib hands out ready nodes in batches with no order guarantee; taking
    # the earliest-input ready model each time makes the result reproducible.
    result: list[M] = []
    ready: set[M] = set(sorter.get_ready())
    while ready:
        model = min(ready, key=position.__getitem__)
        ready.remove(model)
        result.append(model)
        sorter.done(model)
        ready.update(sorter.get_ready())
    return result


def _is_comparable_field(field: AnyField) -> bool:
    """Whether a field holds a value of the row itself (not M2M or reverse)."""
    return bool(getattr(field, "concrete", False)) and not field.many_to_many


def comparable_field_value(instance: Model, field: AnyField) -> Hashable:
    """The hashable value of ``field`` on ``instance`` as it would be stored.

    A foreign key yields the related primary key: the ``*_id`` attribute, or
    the pk of an assigned related object that was saved after assignment; an
    assigned object that is still unsaved is identified by the object itself.
    """
    attname: str = field.attname  # type: ignore[union-attr]
    value = getattr(instance, attname)
    if value is None and field.is_relation:
        cached = field.get_cached_value(instance, None)  # type: ignore[union-attr]
        if cached is not None:
            # An unsaved related object has no id yet; two children of
            # different unsaved parents must still differ.
            value = cached.pk if cached.pk is not None else ("unsaved", id(cached))
    return make_hashable(value)  # type: ignore[no-any-return]


def instance_values(
    instance: Model, fields: Iterable[AnyField]
) -> tuple[Hashable, ...]:
    """Values of the concrete ``fields`` of ``instance``, skipping M2M and reverse."""
    return tuple(
        comparable_field_value(instance, field)
        for field in fields
        if _is_comparable_field(field)
    )


def hash_model_instance(instance: Model, fields: Sequence[AnyField]) -> int:
    """Hash a model instance: by primary key if saved, by ``fields`` if not.

    A saved instance (loaded from or written to the database) is identified by
    its model and primary key. An unsaved one has no identity yet, so its
    content is hashed: the values of the given concrete ``fields``; many-to-many
    and reverse relations in ``fields`` are skipped, so ``get_fields(Model)``
    can be passed as is.

    Examples:
        >>> from django.contrib.auth.models import User
        >>> from winidjango.src.db.fields import get_fields
        >>> a, b = User(username="ann"), User(username="ann")
        >>> hash_model_instance(a, get_fields(User)) == hash_model_instance(
        ...     b, get_fields(User)
        ... )
        True
    """
    if not instance._state.adding and instance.pk is not None:
        return hash((get_model_meta(instance).label, instance.pk))
    return hash(instance_values(instance, fields))


class BaseModel(Model):
    """Abstract model with creation and update timestamps and a readable repr.

    Examples:
        >>> class Article(BaseModel):
        ...     title = models.CharField(max_length=100)
        ...
        ...     class Meta(BaseModel.Meta):
        ...         db_table = "article"
        >>> article = Article.objects.create(title="Hello")  # doctest: +SKIP
        >>> str(article)  # doctest: +SKIP
        'Article(1)'
    """

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        """Abstract: subclasses get the fields, not a table of their own."""

        abstract = True

    def __str__(self) -> str:
        """Return ``ClassName(pk)``, e.g. ``MyModel(1)``."""
        return f"{type(self).__name__}({self.pk})"

    def __repr__(self) -> str:
        """Return the same text as ``__str__``."""
        return str(self)

    @property
    def meta(self) -> "models.options.Options[Self]":
        """Typed access to ``_meta``."""
        return self._meta
