"""Chunked deletes: by key, set-based cascades, or Django's Collector; previews."""

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import CASCADE, PROTECT, RESTRICT, SET_NULL, Model, signals
from django.db.models.deletion import (
    SKIP_COLLECTION,
    Collector,
    get_candidate_relations_to_delete,
)

from winidjango.src.db._backends import get_writer
from winidjango.src.db._backends.base import plain_integers
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
        #: Set-based cascades, unless a model involved needs the Collector.
        self.cascade: CascadePlan | None = None
        if not self.fast:
            try:
                self.cascade = CascadePlan(model, self.writer)
            except ValueError:
                self.cascade = None

    def prepare(self, chunk: list[M]) -> list[M]:
        """Check the chunk: right model, every object saved."""
        self.check_chunk(chunk)
        return chunk

    def execute(self, chunk: list[M]) -> tuple[int, dict[str, int]]:
        """Delete the chunk, through the Collector unless nothing depends on it."""
        if self.fast:
            return self._delete_directly(chunk)
        if self.cascade is not None:
            with connections[self.alias].cursor() as cursor:
                done = self.cascade.delete(cursor, self._db_keys(chunk), self.label)
            if done is not None:
                return done
        return self._delete_collected(chunk)

    def _db_keys(self, chunk: list[M]) -> list[Any]:
        """The chunk's primary keys as database values.

        Keys are read with one ``map`` and used as they are when all have the
        type the field stores unchanged (an ``int`` for an integer key).
        """
        keys = list(map(self._key_of, chunk))
        plain = self.pk_passthrough
        if not {plain}.issuperset(map(type, keys)):
            prep = self.pk_field.get_db_prep_value
            connection = connections[self.alias]
            keys = [
                key if type(key) is plain else prep(key, connection) for key in keys
            ]
        return keys

    def _delete_directly(self, chunk: list[M]) -> tuple[int, dict[str, int]]:
        """One backend DELETE by key for the chunk; no per-object Python work.

        Duplicates are left to the database, which deletes a row once.
        """
        keys = self._db_keys(chunk)
        with connections[self.alias].cursor() as cursor:
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


# -- set-based cascades ----------------------------------------------------

_DELETED, _SET_NULL, _CHECKED = "deleted", "set null", "checked"


@dataclass(frozen=True)
class _Edge:
    """A foreign key of ``child`` pointing at the primary key of ``parent``."""

    child: type[Model]
    parent: type[Model]
    column: str
    #: What deleting a parent row does to the child rows: deleted with it,
    #: set to NULL, or checked (PROTECT/RESTRICT: the Collector decides).
    effect: str


def _supported(model: type[Model]) -> bool:
    """Whether rows of ``model`` can be deleted without the Collector.

    Out: delete signals (they need the objects), multi-table inheritance
    (parents are deleted along), generic relations (found through private
    fields), and a base manager of the model's own (the Collector sees the
    rows through it, which may hide some).
    """
    meta = get_model_meta(model)
    if signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(
        model
    ):
        return False
    # m2m_changed is sent with the through model as sender. Django does not
    # send it when a delete removes through rows, but a project listening to
    # it watches those rows: the Collector path, as Django's own would.
    if meta.auto_created and signals.m2m_changed.has_listeners(model):
        return False
    concrete = meta.concrete_model
    if concrete is not None and get_model_meta(concrete).parents:
        return False
    if meta.base_manager_name:
        return False
    return not any(
        hasattr(field, "bulk_related_objects") for field in meta.private_fields
    )


def _edges_into(model: type[Model]) -> list[_Edge] | None:
    """The relations that deleting rows of ``model`` acts on; None if unusual."""
    meta = get_model_meta(model)
    assert meta.pk is not None
    edges = []
    for related in get_candidate_relations_to_delete(meta):
        field: Any = related.field  # type: ignore[attr-defined]
        on_delete = field.remote_field.on_delete
        if on_delete in SKIP_COLLECTION:
            continue  # DO_NOTHING, or the database's own ON DELETE
        if field.remote_field.parent_link or field.target_field != meta.pk:
            return None
        effect = {
            CASCADE: _DELETED,
            SET_NULL: _SET_NULL,
            PROTECT: _CHECKED,
            RESTRICT: _CHECKED,
        }.get(on_delete)
        if effect is None:
            return None  # SET_DEFAULT, SET(...), a custom handler
        child: Any = related.related_model
        edges.append(_Edge(child, model, str(field.column), effect))
    return edges


class CascadePlan:
    """Cascading deletes as a few set-based statements per chunk.

    Built once per call from the models' relations. Per chunk it reads the
    keys of every model the delete cascades to that has dependents itself
    (one SELECT per relation), refuses to go on where a PROTECT or RESTRICT
    relation holds rows (the caller then lets Django's Collector raise, or
    resolve RESTRICT, exactly), and then writes children first: SET_NULL as
    one UPDATE per relation, deletes by key or, for models nothing depends
    on, by foreign key, one statement per relation. The counts are the rows
    each DELETE reports, as the Collector's are.
    """

    def __init__(self, model: type[Model], writer: Any) -> None:
        """Map the relations reachable from ``model``; raise ValueError if unusual."""
        self.model = model
        self.writer = writer
        self.quote = writer.quote
        self.edges: dict[type[Model], list[_Edge]] = {}
        #: Children first: the order of the writes.
        self.order: list[type[Model]] = []
        self._visit(model, set())
        #: Models whose keys are read: the root, and every deleted model that
        #: something points at.
        self.keyed = {model} | {parent for parent, edges in self.edges.items() if edges}

    def _visit(self, model: type[Model], path: set[type[Model]]) -> None:
        concrete = get_model_meta(model).concrete_model or model
        if concrete in path:
            message = f"{model.__name__} cascades to itself"
            raise ValueError(message)
        if model in self.edges:
            return  # reached twice (a diamond): written once, after all
        if not _supported(model):
            message = f"{model.__name__} needs Django's Collector"
            raise ValueError(message)
        edges = _edges_into(model)
        if edges is None:
            message = f"{model.__name__} has a relation only Django handles"
            raise ValueError(message)
        self.edges[model] = edges
        for edge in edges:
            if edge.effect == _DELETED:
                self._visit(edge.child, path | {concrete})
        self.order.append(model)

    def _table(self, model: type[Model]) -> str:
        return str(self.quote(get_model_meta(model).db_table))

    def _pk_column(self, model: type[Model]) -> str:
        pk = get_model_meta(model).pk
        assert pk is not None
        return str(pk.column)

    def _in_parts(self, keys: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        """``IN (...)`` lists of ``keys``: digits for integers, else parameters."""
        if plain_integers(keys):
            step = self.writer.max_inline_keys
            for start in range(0, len(keys), step):
                yield "(" + ",".join(map(str, keys[start : start + step])) + ")", []
            return
        for part in self.writer.statement_parts([[key] for key in keys], 1):
            yield "(" + ", ".join(["%s"] * len(part)) + ")", [row[0] for row in part]

    def _child_keys(self, cursor: Any, edge: _Edge, keys: Sequence[Any]) -> list[Any]:
        child = edge.child
        head = (
            f"SELECT {self.quote(self._pk_column(child))} FROM {self._table(child)} "
            f"WHERE {self.quote(edge.column)} IN "
        )
        found: list[Any] = []
        for in_list, params in self._in_parts(keys):
            cursor.execute(head + in_list, params)
            found += [row[0] for row in cursor.fetchall()]
        return found

    def _any_row(self, cursor: Any, edge: _Edge, keys: Sequence[Any]) -> bool:
        head = (
            f"SELECT 1 FROM {self._table(edge.child)} "
            f"WHERE {self.quote(edge.column)} IN "
        )
        for in_list, params in self._in_parts(keys):
            cursor.execute(head + in_list + " LIMIT 1", params)
            if cursor.fetchone() is not None:
                return True
        return False

    def _run(self, cursor: Any, sql: str, keys: Sequence[Any]) -> int:
        changed = 0
        for in_list, params in self._in_parts(keys):
            cursor.execute(sql + in_list, params)
            changed += cursor.rowcount
        return changed

    def delete(
        self, cursor: Any, root_keys: Sequence[Any], label: str
    ) -> tuple[int, dict[str, int]] | None:
        """Delete the chunk's rows and their cascades; None to use the Collector.

        None is returned before anything is written: a PROTECT or RESTRICT
        relation points at one of the rows, and only the Collector raises the
        exact error (or, for RESTRICT, finds the rows cascaded anyway).
        """
        keys = self._keys(cursor, root_keys)
        if self._blocked(cursor, keys):
            return None
        counts: Counter[str] = Counter()
        for model in self.order:
            model_label = label if model is self.model else get_model_meta(model).label
            counts[model_label] += self._write(cursor, model, keys)
        return sum(counts.values()), {name: n for name, n in counts.items() if n}

    def _keys(
        self, cursor: Any, root_keys: Sequence[Any]
    ) -> dict[type[Model], list[Any]]:
        """The keys of the root's rows and of every keyed model they cascade to."""
        keys: dict[type[Model], list[Any]] = {self.model: list(root_keys)}
        # Parents before children: a model's keys are complete once every
        # model that cascades to it is done.
        for model in reversed(self.order):
            parent_keys = keys.get(model)
            if parent_keys:
                parent_keys[:] = dict.fromkeys(parent_keys)  # a diamond's twice
            for edge in self.edges[model]:
                if parent_keys and edge.effect == _DELETED and edge.child in self.keyed:
                    found = self._child_keys(cursor, edge, parent_keys)
                    keys.setdefault(edge.child, []).extend(found)
        return keys

    def _blocked(self, cursor: Any, keys: dict[type[Model], list[Any]]) -> bool:
        """Whether a PROTECT or RESTRICT relation points at a row to delete."""
        for model, edges in self.edges.items():
            parent_keys = keys.get(model)
            for edge in edges:
                if (
                    parent_keys
                    and edge.effect == _CHECKED
                    and self._any_row(cursor, edge, parent_keys)
                ):
                    return True
        return False

    def _write(
        self, cursor: Any, model: type[Model], keys: dict[type[Model], list[Any]]
    ) -> int:
        """Null the SET_NULL relations into ``model``, then delete its rows."""
        model_keys = keys.get(model)
        for edge in self.edges[model]:
            if edge.effect == _SET_NULL and model_keys:
                column = self.quote(edge.column)
                self._run(
                    cursor,
                    f"UPDATE {self._table(edge.child)} SET {column} = NULL "
                    f"WHERE {column} IN ",
                    model_keys,
                )
        if model in self.keyed:
            if not model_keys:
                return 0
            table = get_model_meta(model).db_table
            deleted: int = self.writer.delete_rows(
                cursor, table, self._pk_column(model), model_keys
            )
            return deleted
        # Nothing points at these rows: delete them by the foreign keys that
        # cascade to them, without reading their keys.
        deleted = 0
        for parent, edges in self.edges.items():
            parent_keys = keys.get(parent)
            for edge in edges:
                if parent_keys and edge.child is model and edge.effect == _DELETED:
                    deleted += self._run(
                        cursor,
                        f"DELETE FROM {self._table(model)} "
                        f"WHERE {self.quote(edge.column)} IN ",
                        parent_keys,
                    )
        return deleted
