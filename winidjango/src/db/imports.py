"""The import engine: write several models' objects and frames, match rows by key.

These are the steps ``ImportDataBaseCommand`` runs, as plain functions, so
that a script, a Celery task or a test can run an import without writing a
management command:

- :func:`write_bulks`: create the rows of several models, given as unsaved
  objects or as polars frames, in foreign-key order, in one transaction,
  then check the foreign keys the database would only check at commit;
- :func:`check_deferred_constraints`: that last check on its own;
- :func:`key_frame`: the key columns of objects or of a frame, as a frame;
- :func:`saved_keys`: the key columns (and primary keys) of the rows in the
  database, read in chunks, without building a model instance per row;
- :func:`without_saved_rows`: the rows of a frame whose key is not in the
  database yet (the "already saved" detection that makes a second import
  add nothing);
- :func:`find_missing_rows`: the primary keys of the rows in the database
  whose key is not in the given data (what ``--delete`` removes).

A *key* is a list of field names that identify a row (``["isbn"]``,
``["date", "carrier", "number"]``). A foreign key in a key matches by the
related row's key as stored in the column (its ``attname`` value, e.g. the
``to_field`` value for ``ForeignKey(to_field=...)``). Keys compare as polars
compares values: exactly, ``None`` equal to ``None``. To also update rows
whose other fields changed, use :mod:`winidjango.src.db.sync`.
"""

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

import polars as pl
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router, transaction
from django.db.models import Model, Q, QuerySet

from winidjango.src.db._load_rejecting import frame_without_refused
from winidjango.src.db.bulk import (
    Progress,
    bulk_create_bulks_in_steps,
    bulk_create_from_frame,
    bulk_create_in_steps,
)
from winidjango.src.db.fields import AnyField
from winidjango.src.db.models import topological_sort_models
from winidjango.src.db.rejects import Reject

__all__ = [
    "PK_COLUMN",
    "check_deferred_constraints",
    "find_missing_rows",
    "frame_without_refused",
    "key_fields",
    "key_frame",
    "saved_keys",
    "without_saved_rows",
    "write_bulks",
]

type Bulk = Iterable[Model] | pl.DataFrame
"""One model's rows: unsaved objects (any iterable) or a polars frame."""

#: The column of :func:`saved_keys` that holds each row's primary key.
PK_COLUMN = "__pk__"

_READ_CHUNK = 10_000


def _label(model: type[Model]) -> str:
    return str(model._meta.label)


def _alias(model: type[Model], using: str | None) -> str:
    return using if using is not None else router.db_for_write(model)


def key_fields(model: type[Model], key: Sequence[str]) -> list[AnyField]:
    """The fields named by ``key``, checked: concrete columns of ``model``.

    Raises:
        ValueError: ``key`` is empty or a plain string, names no field of
            ``model``, or names a field that is no column of its table
            (a many-to-many or reverse relation).

    Examples:
        >>> [field.name for field in key_fields(Book, ["title", "author"])]
        ['title', 'author']
        >>> key_fields(Book, ["tags"])
        Traceback (most recent call last):
        ValueError: testapp.Book.tags is not a column of the model's table ...
    """
    if isinstance(key, str) or not key:
        message = (
            f"the key of {_label(model)} must be a non-empty list of field names, "
            f"not {key!r}"
        )
        raise ValueError(message)
    fields = []
    for name in key:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            message = f"{_label(model)} has no field {name!r}"
            raise ValueError(message) from None
        if not getattr(field, "concrete", False) or field.many_to_many:
            message = (
                f"{_label(model)}.{name} is not a column of the model's table "
                "and cannot identify a row"
            )
            raise ValueError(message)
        fields.append(field)
    return fields


def _attname(field: AnyField) -> str:
    return str(getattr(field, "attname", field.name))


def _frame_column(model: type[Model], frame: pl.DataFrame, field: AnyField) -> str:
    for column in (field.name, _attname(field)):
        if column in frame.columns:
            return column
    message = f"the {_label(model)} frame has no column for key field {field.name!r}"
    raise ValueError(message)


def key_frame(model: type[Model], data: Bulk, key: Sequence[str]) -> pl.DataFrame:
    """The key columns of ``data``, one row per object or frame row.

    Columns are named by the fields' ``attname`` (``author_id`` for a
    foreign key ``author``), whatever the frame called them. An object's
    foreign key gives the related id it holds (for an unsaved parent object,
    ``None`` until the parent is saved).

    Raises:
        ValueError: a key field is not a column of the model (see
            :func:`key_fields`), or the frame has no column for it.

    Examples:
        >>> key_frame(Book, [Book(title="Notes", author_id=1)], ["title", "author"])
        shape: (1, 2) ... title ... author_id ... "Notes" ... 1
    """
    fields = key_fields(model, key)
    attnames = [_attname(field) for field in fields]
    if isinstance(data, pl.DataFrame):
        columns = [_frame_column(model, data, field) for field in fields]
        return data.select(
            pl.col(column).alias(attname)
            for column, attname in zip(columns, attnames, strict=True)
        )
    rows = [tuple(getattr(obj, name) for name in attnames) for obj in data]
    return pl.DataFrame(
        rows, schema=attnames, orient="row", infer_schema_length=None, strict=False
    )


def saved_keys(
    model: type[Model],
    key: Sequence[str],
    *,
    using: str | None = None,
    scope: QuerySet[Any] | Q | None = None,
) -> pl.DataFrame:
    """The key columns of ``model``'s rows in the database, and their primary keys.

    Only the key columns and the primary key are read, in chunks, straight
    into polars: no model instance is built, so a table of millions of rows
    costs a few columns of memory. ``scope`` (a queryset or ``Q`` of the
    model) limits the rows read. The primary key is in column
    :data:`PK_COLUMN`.

    Examples:
        >>> saved_keys(Author, ["name"]).columns
        ['name', '__pk__']
    """
    fields = key_fields(model, key)
    attnames = [_attname(field) for field in fields]
    alias = _alias(model, using)
    rows = _scoped(model, alias, scope).order_by().values_list(*attnames, "pk")
    chunks: list[pl.DataFrame] = []
    batch: list[tuple[Any, ...]] = []
    schema = [*attnames, PK_COLUMN]
    for row in rows.iterator(chunk_size=_READ_CHUNK):
        batch.append(row)
        if len(batch) >= _READ_CHUNK:
            chunks.append(_rows_frame(batch, schema))
            batch = []
    if batch or not chunks:
        chunks.append(_rows_frame(batch, schema))
    return pl.concat(chunks, how="vertical_relaxed")


def _rows_frame(rows: list[tuple[Any, ...]], schema: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=schema, orient="row", infer_schema_length=None, strict=False
    )


def _scoped(
    model: type[Model], alias: str, scope: QuerySet[Any] | Q | None
) -> QuerySet[Any]:
    queryset = model._default_manager.using(alias)
    if scope is None:
        return queryset.all()
    if isinstance(scope, Q):
        return queryset.filter(scope)
    if scope.model is not model:
        message = (
            f"the scope is a queryset of {_label(scope.model)}, not of {_label(model)}"
        )
        raise ValueError(message)
    return queryset.filter(pk__in=scope.values("pk"))


def _comparable(
    model: type[Model], data: pl.DataFrame, saved: pl.DataFrame, columns: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both key frames with one dtype per column, so that they can be joined."""
    data_cast, saved_cast = [], []
    for column in columns:
        wanted = data.schema[column]
        held = saved.schema[column]
        if wanted == held:
            continue
        if held == pl.Null:
            saved_cast.append(pl.col(column).cast(wanted))
        elif wanted == pl.Null:
            data_cast.append(pl.col(column).cast(held))
        else:
            saved_cast.append(pl.col(column).cast(wanted, strict=True))
    try:
        return data.with_columns(data_cast), saved.with_columns(saved_cast)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        message = (
            f"the {_label(model)} key columns {columns} of the data cannot be "
            f"compared with the saved rows' values: {error}"
        )
        raise ValueError(message) from error


def without_saved_rows(
    model: type[Model],
    frame: pl.DataFrame,
    *,
    key: Sequence[str],
    using: str | None = None,
) -> pl.DataFrame:
    """The rows of ``frame`` whose ``key`` is not in ``model``'s table yet.

    What makes a second import of the same frame add nothing: rows already
    saved (matched on the key columns) are left out, whatever their other
    columns hold; the others are returned in their order. To also write the
    changes of saved rows, use :func:`winidjango.src.db.sync.sync`.

    Raises:
        ValueError: the key is not valid for ``model``, the frame has no
            column for a key field, or the saved values do not fit the
            frame's column types.

    Examples:
        >>> Author.objects.create(name="Ann")
        <Author: Ann>
        >>> frame = pl.DataFrame({"name": ["Ann", "Bob"]})
        >>> without_saved_rows(Author, frame, key=["name"])["name"].to_list()
        ['Bob']
    """
    keys = key_frame(model, frame, key)
    columns = keys.columns
    saved = saved_keys(model, key, using=using).drop(PK_COLUMN)
    if saved.is_empty():
        return frame
    keys, saved = _comparable(model, keys, saved, columns)
    is_saved = (
        keys.with_row_index("__row__")
        .join(saved.unique(), on=columns, how="semi", nulls_equal=True)
        .get_column("__row__")
    )
    return (
        frame.with_row_index("__row__")
        .filter(~pl.col("__row__").is_in(is_saved.implode()))
        .drop("__row__")
    )


def find_missing_rows(
    model: type[Model],
    data: Bulk,
    *,
    key: Sequence[str],
    using: str | None = None,
    scope: QuerySet[Any] | Q | None = None,
) -> list[Any]:
    """The primary keys of ``model``'s rows whose ``key`` is not in ``data``.

    ``data`` is what the source holds now (objects or a frame, or just its
    key columns); a row of the table (within ``scope``, a queryset or ``Q``
    of the model, if given) whose key values match no row of ``data`` is
    missing from it: a candidate for deletion. Nothing is deleted here; pass
    the result to ``bulk_delete_in_steps`` (after a preview with
    ``simulate_bulk_deletion``), or to a queryset's ``filter(pk__in=...)``.

    Only the key columns and primary keys are read, in chunks, into polars,
    and compared there (an anti-join).

    Examples:
        >>> ann = Author.objects.create(name="Ann")
        >>> old = Author.objects.create(name="Old")
        >>> find_missing_rows(Author, [Author(name="Ann")], key=["name"]) == [old.pk]
        True
        >>> find_missing_rows(Author, pl.DataFrame({"name": ["Ann"]}), key=["name"],
        ...                   scope=Q(name__startswith="A"))
        []
    """
    keys = key_frame(model, data, key)
    columns = keys.columns
    saved = saved_keys(model, key, using=using, scope=scope)
    if saved.is_empty():
        return []
    keys, saved = _comparable(model, keys, saved, columns)
    missing = saved.join(keys.unique(), on=columns, how="anti", nulls_equal=True)
    return missing.get_column(PK_COLUMN).sort().to_list()


def write_bulks(
    bulks: Mapping[type[Model], Bulk],
    *,
    using: str | None = None,
    step: int = 1000,
    threads: int | None = None,
    progress: Progress | None = None,
    check_constraints: bool = True,
    rejects: dict[type[Model], list[Reject]] | None = None,
) -> dict[type[Model], list[Model] | int]:
    """Create the rows of several models, parents first, in one transaction.

    Each model's rows are unsaved objects or a polars frame. Objects go
    through ``bulk_create_bulks_in_steps`` (a child given an unsaved parent
    object gets the parent's new id; objects already saved are not inserted
    again) and frames through ``bulk_create_from_frame`` (a foreign key
    column holds the related row's key). Models are written in foreign-key
    order (:func:`~winidjango.src.db.models.topological_sort_models`),
    whatever the order of ``bulks``.

    Everything happens in one transaction per database (joining the
    caller's ``atomic()``): if a model fails, no model's rows remain. With
    ``check_constraints`` (the default), the foreign keys that PostgreSQL and
    SQLite only check at commit are checked before returning (see
    :func:`check_deferred_constraints`), so a dangling key raises here,
    inside the transaction, and not later at commit.

    With ``rejects={}`` (a dict), bad rows are set aside instead of ending
    the call: each model's refused rows are appended to ``rejects[model]``
    (see :mod:`winidjango.src.db.rejects`; rows are 1-based positions in
    that model's data), and a child whose parent object was refused is
    refused too (its parent is still unsaved).

    Returns:
        ``{model: created objects}`` for a model given as objects and
        ``{model: rows written}`` for a model given as a frame, in
        dependency order.

    Raises:
        BulkInputError: bad input, before anything is written (see the bulk
            functions).
        IntegrityError: the database refused a row (a unique value already
            saved, a foreign key that finds no row); nothing is kept.

    Examples:
        >>> ann = Author(name="Ann")
        >>> created = write_bulks(
        ...     {
        ...         Book: [Book(title="Notes", author=ann)],
        ...         Author: [ann],
        ...         Tag: pl.DataFrame({"name": ["poetry", "prose"]}),
        ...     },
        ...     step=500,
        ... )
        >>> created[Tag], [book.author_id == ann.pk for book in created[Book]]
        (2, [True])
    """
    given: dict[type[Model], list[Model] | pl.DataFrame] = {
        model: bulk if isinstance(bulk, pl.DataFrame) else list(bulk)
        for model, bulk in bulks.items()
    }
    order = topological_sort_models(given)
    created: dict[type[Model], list[Model] | int] = {}
    aliases = dict.fromkeys(_alias(model, using) for model in order)
    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(transaction.atomic(using=alias))
        objects_only = all(not isinstance(b, pl.DataFrame) for b in given.values())
        if rejects is not None:
            for model in order:
                created[model] = _write_rejecting(
                    model,
                    given[model],
                    rejects.setdefault(model, []),
                    using=using,
                    step=step,
                    progress=progress,
                )
        elif objects_only and len(aliases) <= 1:
            # One call: it keeps unsaved parent objects and their children
            # consistent if a later model fails (ids are forgotten again).
            created.update(
                bulk_create_bulks_in_steps(
                    {model: given[model] for model in order},  # type: ignore[misc]
                    step,
                    using=using,
                    threads=threads,
                    progress=progress,
                )
            )
        else:
            for model in order:
                bulk = given[model]
                if isinstance(bulk, pl.DataFrame):
                    created[model] = bulk_create_from_frame(
                        model,
                        bulk,
                        step,
                        using=using,
                        threads=threads,
                        progress=progress,
                    )
                else:
                    created.update(
                        bulk_create_bulks_in_steps(
                            {model: bulk},
                            step,
                            using=using,
                            threads=threads,
                            progress=progress,
                        )
                    )
        if check_constraints:
            check_deferred_constraints(order, using=using)
    return created


def _write_rejecting(
    model: type[Model],
    bulk: list[Model] | pl.DataFrame,
    rejects: list[Reject],
    *,
    using: str | None,
    step: int,
    progress: Progress | None,
) -> list[Model] | int:
    """One model's rows written with its bad rows set aside in ``rejects``."""
    if isinstance(bulk, pl.DataFrame):
        return bulk_create_from_frame(
            model, bulk, step, using=using, progress=progress, rejects=rejects
        )
    # Saved objects are skipped, but rows keep their positions in the data.
    unsaved = [(row, obj) for row, obj in enumerate(bulk, 1) if obj._state.adding]
    found: list[Reject] = []
    created = bulk_create_in_steps(
        model,
        [obj for _, obj in unsaved],
        step,
        using=using,
        progress=progress,
        rejects=found,
    )
    rejects.extend(
        dataclasses.replace(reject, row=unsaved[reject.row - 1][0]) for reject in found
    )
    return created


def check_deferred_constraints(
    models: Iterable[type[Model]], *, using: str | None = None
) -> None:
    """Check now the foreign keys of ``models`` that the database checks at commit.

    PostgreSQL and SQLite (as Django creates their tables) check foreign
    keys only when the transaction commits, where an error escapes far from
    the code that wrote the row. Called inside the transaction, this raises
    the ``IntegrityError`` now, naming the table, row and key (as Django's
    ``loaddata`` does); nothing has been committed. MariaDB checks each
    statement at once, so there it does nothing.

    Raises:
        IntegrityError: a row points to a row that does not exist.

    Examples:
        >>> with transaction.atomic():
        ...     Book.objects.bulk_create([Book(title="Lost", author_id=999)])
        ...     check_deferred_constraints([Book])
        Traceback (most recent call last):
        IntegrityError: The row in table 'testapp_book' with primary key ...
    """
    tables_by_alias: dict[str, list[str]] = {}
    for model in models:
        tables = tables_by_alias.setdefault(_alias(model, using), [])
        tables.append(model._meta.db_table)
    for alias, tables in tables_by_alias.items():
        connection = connections[alias]
        if connection.features.can_defer_constraint_checks:
            connection.check_constraints(table_names=tables)
