"""What deleting rows of a sync would remove, counted with COUNT queries only.

A deletion preview that loads every cascaded object (Django's ``Collector``)
costs memory and time per row; a sync that removes 10,000 authors with their
books and reviews needs numbers, not objects. Here each ``CASCADE`` relation
is followed as a subquery of the one before it (``Book.author IN (SELECT
...)``), recursively, and every model's rows are counted once. ``PROTECT`` and
``RESTRICT`` relations give the rows that would block the delete.
"""

import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from django.db import models
from django.db.models import Model, Q, QuerySet

from winidjango.src.db.fields import get_model_meta

#: Root keys per round of subqueries: far below every backend's parameter
#: limit. Rows reached from two chunks by two different paths are counted
#: in both (a diamond of cascades across chunks); one chunk is exact.
_KEYS_PER_ROUND = 10_000
#: Relations followed at most, so that a cycle of cascades always ends.
_MAX_STEPS = 500
_SAMPLES = 5


@dataclass
class DeletionCounts:
    """Rows a delete removes per model label, and rows that would block it."""

    cascade: Counter[str] = field(default_factory=Counter)
    blockers: Counter[str] = field(default_factory=Counter)
    blocker_samples: dict[str, list[Any]] = field(default_factory=dict)


def count_deletion(
    model: type[Model], pks: Sequence[Any], alias: str
) -> DeletionCounts:
    """Count what deleting the rows ``pks`` of ``model`` would remove or hit."""
    counts = DeletionCounts()
    label = get_model_meta(model).label
    if not pks:
        return counts
    counts.cascade[label] += len(pks)
    manager = model._base_manager.using(alias)
    for start in range(0, len(pks), _KEYS_PER_ROUND):
        root = manager.filter(pk__in=list(pks[start : start + _KEYS_PER_ROUND]))
        _count_round(model, root, alias, counts)
    return counts


def _count_round(
    model: type[Model], root: QuerySet[Any], alias: str, counts: DeletionCounts
) -> None:
    parts, blocking = _follow(model, root, alias)
    _count(model, parts, blocking, counts)


def _follow(
    model: type[Model], root: QuerySet[Any], alias: str
) -> tuple[
    dict[type[Model], list[QuerySet[Any]]],
    list[tuple[type[Model], QuerySet[Any], bool]],
]:
    """The cascaded querysets per model, and the blocking ones."""
    parts: dict[type[Model], list[QuerySet[Any]]] = {model: [root]}
    blocking: list[tuple[type[Model], QuerySet[Any], bool]] = []
    frontier: list[tuple[type[Model], QuerySet[Any]]] = [(model, root)]
    steps = 0
    while frontier and steps < _MAX_STEPS:
        current, queryset = frontier.pop(0)
        for relation in get_model_meta(current).related_objects:
            steps += 1
            if relation.many_to_many or relation.field is None:
                continue
            child: type[Model] = relation.related_model
            rows = child._base_manager.using(alias).filter(
                **{f"{relation.field.name}__in": queryset}
            )
            on_delete = relation.on_delete
            if on_delete is models.CASCADE:
                if rows.exists():
                    parts.setdefault(child, []).append(rows)
                    frontier.append((child, rows))
            elif on_delete is models.PROTECT:
                blocking.append((child, rows, False))
            elif on_delete is models.RESTRICT:
                blocking.append((child, rows, True))
    return parts, blocking


def _count(
    model: type[Model],
    parts: dict[type[Model], list[QuerySet[Any]]],
    blocking: list[tuple[type[Model], QuerySet[Any], bool]],
    counts: DeletionCounts,
) -> None:
    union = {
        child: reduce(operator.or_, [Q(pk__in=part.values("pk")) for part in found])
        for child, found in parts.items()
    }
    for child, condition in union.items():
        if child is model:
            continue
        label = get_model_meta(child).label
        counts.cascade[label] += (
            parts[child][0]
            .model._base_manager.using(parts[child][0].db)
            .filter(condition)
            .count()
        )
    for child, found_rows, restrict in blocking:
        rows = found_rows
        if restrict and child in union:
            # Django lets a RESTRICT row go when the delete removes it
            # through a cascade of its own.
            rows = rows.exclude(union[child])
        found = rows.count()
        if found:
            label = get_model_meta(child).label
            counts.blockers[label] += found
            samples = counts.blocker_samples.setdefault(label, [])
            if len(samples) < _SAMPLES:
                samples += list(
                    rows.values_list("pk", flat=True)[: _SAMPLES - len(samples)]
                )
