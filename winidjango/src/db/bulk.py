"""Chunked, thread-assisted bulk create, update and delete; bulk diffs and previews.

Transactions and threads
------------------------
By default (``atomic=True``) a call is one transaction on the caller's
connection for ``using``: it either writes everything or nothing, and inside a
caller's ``transaction.atomic()`` (or a ``TestCase``) it joins that
transaction. Helper threads never write in this mode; they *prepare* upcoming
chunks (instance checks, values, SQL) while the caller's thread executes the
prepared ones, so the database work and the Python work overlap. (On
PostgreSQL, ``bulk_create_in_steps`` and ``bulk_create_from_frame`` stream
every chunk into one ``COPY`` in this mode, prepared in the caller's thread.)

With ``atomic=False`` every chunk commits on its own. On PostgreSQL and MariaDB,
with ``threads > 1``, chunks are then written concurrently, each worker thread
on its own connection (closed when the call ends); if a chunk fails,
:class:`~winidjango.src.db.exceptions.BulkPartialFailureError` tells which
chunks committed. Inside a caller's atomic block, chunks cannot be committed
separately without leaving the caller's transaction, so they are written one by
one on the caller's connection instead, with a warning.

Every function takes ``using=`` (default ``router.db_for_write(model)``); an
alias missing from ``settings.DATABASES`` raises Django's
``ConnectionDoesNotExist`` before anything else, whatever the input.

Inputs may be any iterable, generators included: they are read lazily, a chunk
of ``step`` objects at a time, at most a few chunks ahead of the writes.
Lists and tuples are checked in full before anything is written; for a
generator, a bad object is found when its chunk is read, and (``atomic=True``)
the rollback undoes the chunks written before it.
"""

import logging
import threading
import warnings
from collections import deque
from collections.abc import (
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    Sized,
)
from pathlib import Path
from typing import Any, Literal, overload

import polars as pl
from django.db import connections, router, transaction
from django.db.models import Model
from django.utils.connection import ConnectionDoesNotExist

from winidjango.src.db._backends import get_writer
from winidjango.src.db._backends.base import BulkSqlWriter
from winidjango.src.db._backends.mysql import MySqlWriter
from winidjango.src.db._backends.postgresql import PostgreSqlWriter
from winidjango.src.db._delete import DeletePlan, preview_deletion, sum_delete_counts
from winidjango.src.db._frame import FramePlan
from winidjango.src.db._insert import InsertPlan
from winidjango.src.db._insert_copy import OneCopy, can_stream, with_drawn_keys
from winidjango.src.db._load_rejecting import (
    create_objects_rejecting,
    load_frame_rejecting,
)
from winidjango.src.db._pipeline import (
    chunked,
    run_chunkwise,
    run_parallel,
    run_pipelined,
)
from winidjango.src.db._update import UpdatePlan
from winidjango.src.db._validation import (
    ChunkChecks,
    OffsetChunk,
    check_model,
    check_step,
    check_threads,
    resolve_update_fields,
)
from winidjango.src.db.exceptions import BulkPartialFailureError
from winidjango.src.db.fields import AnyField, get_model_meta
from winidjango.src.db.models import instance_values, topological_sort_models
from winidjango.src.db.rejects import Reject
from winidjango.src.db.sync import (
    SyncBulksPlan,
    SyncPlan,
    SyncResult,
    plan_sync,
    plan_sync_bulks,
    sync,
)

__all__ = [
    "DEFAULT_THREADS",
    "BulkPartialFailureError",
    "Reject",
    "SyncBulksPlan",
    "SyncPlan",
    "SyncResult",
    "bulk_create_bulks_in_steps",
    "bulk_create_from_frame",
    "bulk_create_in_steps",
    "bulk_delete_in_steps",
    "bulk_update_in_steps",
    "check_frame",
    "get_differences_between_bulks",
    "multi_simulate_bulk_deletion",
    "plan_sync",
    "plan_sync_bulks",
    "simulate_bulk_deletion",
    "sync",
]

logger = logging.getLogger(__name__)

_PACKAGE_DIR = str(Path(__file__).resolve().parents[2])

#: Threads used when ``threads=None``: only the caller's. The benchmark
#: (``python -m benchmarks``, 100,000 rows, 2 cores) found helper threads
#: preparing chunks a mixed bag: SQLite create +11%, SQLite update -45%,
#: PostgreSQL create -9%, the rest within 7%, because preparing a chunk is
#: Python work that holds the GIL. Pass ``threads=`` to opt in.
DEFAULT_THREADS = 1

type Progress = Callable[[type[Model], int], None]
"""Called as ``progress(model, n)`` after each chunk of ``n`` objects is written."""


def _database_for(model: type[Model], using: str | None) -> str:
    """The alias to write ``model`` to; an alias not in ``DATABASES`` is refused.

    Refused up front, with Django's own error for it, by every function here:
    a deletion preview of a model without relations would otherwise never
    touch the database and answer for a database that does not exist.
    """
    alias = using if using is not None else router.db_for_write(model)
    if alias not in connections.settings:
        configured = ", ".join(map(repr, connections.settings))
        message = (
            f"using={alias!r}: no such database alias in settings.DATABASES "
            f"(configured: {configured})"
        )
        raise ConnectionDoesNotExist(message)
    return alias


def _checked_call(
    model: type[Model], step: object, threads: object, using: str | None
) -> str:
    """Refuse a bad model, step or thread count; return the database alias."""
    check_model(model)
    check_step(step)
    check_threads(threads)
    return _database_for(model, using)


def _validated_chunks[M: Model](
    plan: ChunkChecks, bulk: Iterable[M], step: int
) -> Iterator[list[M]]:
    """Chunks of ``bulk``; a list or tuple is checked in full before the first.

    Each chunk knows its offset in the bulk, so that errors found in it give
    the row number in the bulk.
    """
    if isinstance(bulk, Sequence):
        plan.check_up_front(bulk)
    return _offset_chunks(bulk, step)


def _offset_chunks[M: Model](bulk: Iterable[M], step: int) -> Iterator[list[M]]:
    offset = 0
    numbers = bulk.numbers if isinstance(bulk, _UnsavedOf) else None
    for objs in chunked(bulk, step):
        chunk = OffsetChunk(objs)
        chunk.offset = offset
        if numbers is not None:
            chunk.numbers = [numbers.popleft() for _ in objs]
        offset += len(objs)
        yield chunk


class _UnsavedOf[M: Model]:
    """The unsaved objects of a bulk, each one's 1-based row in it remembered.

    Errors then name the row of the caller's bulk, not of the unsaved ones.
    """

    def __init__(self, bulk: Iterable[M]) -> None:
        self._bulk = bulk
        self.numbers: deque[int] = deque()

    def __iter__(self) -> Iterator[M]:
        for number, obj in enumerate(self._bulk, start=1):
            if obj._state.adding:
                self.numbers.append(number)
                yield obj


def _with_progress[C: Sized, P, R](
    model: type[Model],
    progress: Progress,
    prepare: Callable[[C], P],
    execute: Callable[[P], R],
) -> tuple[Callable[[C], tuple[int, P]], Callable[[tuple[int, P]], R]]:
    """Wrap prepare/execute so that ``progress`` hears of each chunk once written.

    Reporting from ``execute`` (not when the next chunk is read) matters
    because chunks are read ahead of the writes. With concurrent writers the
    callback runs on the writer threads, one call at a time.
    """
    lock = threading.Lock()

    def counted_prepare(chunk: C) -> tuple[int, P]:
        return len(chunk), prepare(chunk)

    def reporting_execute(item: tuple[int, P]) -> R:
        size, prepared = item
        result = execute(prepared)
        with lock:
            progress(model, size)
        return result

    return counted_prepare, reporting_execute


def _run[C: Sized, P, R](
    model: type[Model],
    alias: str,
    chunks: Iterator[C],
    prepare: Callable[[C], P],
    execute: Callable[[P], R],
    *,
    threads: int | None,
    atomic: bool,
    progress: Progress | None,
    pipelined: bool = True,
) -> list[R]:
    """Pick the strategy for one call's chunks; see the module docstring."""
    if progress is not None:
        prepare, execute = _with_progress(model, progress, prepare, execute)  # type: ignore[assignment]
    connection = connections[alias]
    threads = DEFAULT_THREADS if threads is None else threads
    if atomic:
        with transaction.atomic(using=alias):
            return run_pipelined(chunks, prepare, execute, threads if pipelined else 1)
    concurrent = threads > 1 and get_writer(connection).supports_concurrent_writers
    if concurrent and connection.in_atomic_block:
        warnings.warn(
            "atomic=False inside an atomic block: chunks are written one by one "
            "on the caller's connection (to stay in the caller's transaction), "
            "not in parallel",
            RuntimeWarning,
            # Point at the caller's code, however deep in winidjango we are.
            skip_file_prefixes=(_PACKAGE_DIR,),
        )
        concurrent = False
    if concurrent:

        def work(chunk: C) -> R:
            return execute(prepare(chunk))

        return run_parallel(chunks, work, alias, threads)
    return run_chunkwise(chunks, prepare, execute, alias)


@overload
def bulk_create_in_steps[M: Model](
    model: type[M],
    bulk: Iterable[M],
    step: int = 1000,
    *,
    using: str | None = None,
    threads: int | None = None,
    atomic: bool = True,
    progress: Progress | None = None,
    return_objects: Literal[True] = True,
    rejects: list[Reject] | None = None,
) -> list[M]: ...


@overload
def bulk_create_in_steps[M: Model](
    model: type[M],
    bulk: Iterable[M],
    step: int = 1000,
    *,
    using: str | None = None,
    threads: int | None = None,
    atomic: bool = True,
    progress: Progress | None = None,
    return_objects: Literal[False],
    rejects: list[Reject] | None = None,
) -> int: ...


def bulk_create_in_steps[M: Model](
    model: type[M],
    bulk: Iterable[M],
    step: int = 1000,
    *,
    using: str | None = None,
    threads: int | None = None,
    atomic: bool = True,
    progress: Progress | None = None,
    return_objects: bool = True,
    rejects: list[Reject] | None = None,
) -> list[M] | int:
    """Insert ``bulk`` in chunks of ``step`` and return the objects with their keys.

    Args:
        model: the model class; every object must be an instance of it (or of
            a proxy of it).
        bulk: unsaved instances, any iterable.
        step: objects per chunk, an int >= 1.
        using: database alias; default ``router.db_for_write(model)``.
        threads: threads working on the call, the caller's included; default
            :data:`DEFAULT_THREADS`. ``1`` does everything in the caller's thread.
        atomic: all-or-nothing (default). ``False`` commits chunk by chunk.
        progress: optional ``progress(model, n)`` callback per written chunk;
            a call with ``progress`` is written chunk by chunk (no single
            COPY, see below), so the rows are there when it is called.
        return_objects: ``False`` returns the number of rows created instead
            of the objects and keeps no reference to them, so that creating
            millions of rows from a generator needs memory for a few chunks
            only. The objects still get their keys.
        rejects: a list to set bad objects aside in instead of failing: an
            object whose related object is unsaved, whose foreign key points
            to no row, or that the database refuses (unique clash, check
            constraint) is appended as a
            :class:`~winidjango.src.db.rejects.Reject` (1-based row) and
            left unsaved; the others are created, in one transaction
            (``threads`` is not used then).

    Returns:
        The created objects in input order, primary keys set (or their number,
        with ``return_objects=False``). Related objects assigned before they
        were saved are resolved to their ids now. On MySQL (not MariaDB),
        which cannot return keys from a multi-row INSERT, objects without a
        preset primary key raise ``NotSupportedError``.

    Values are converted as Django's ``bulk_create`` converts them
    (``pre_save``, then ``get_db_prep_save``); only values that chain
    provably returns unchanged skip it.

    On PostgreSQL with psycopg 3 and ``atomic=True``, the whole call is one
    ``COPY`` statement, fed a chunk at a time (``step`` still bounds the rows
    converted at once). The keys of a list's objects are drawn from the
    key's sequence in one query before the COPY starts (no query can run
    during it). A generator, whose length is unknown beforehand, and a call
    with ``progress`` (whose callback may query) are written chunk by chunk
    instead. A chunk that cannot be streamed (an SQL
    expression as a value) ends the COPY; it and the rest are written chunk
    by chunk in the same transaction, with the keys drawn for them, so every
    object gets the key it would have got anyway, in input order.
    ``threads`` does not apply to the streamed chunks: they are prepared in
    the caller's thread.

    Raises:
        TypeError, ValueError: bad ``step``.
        BulkInputTypeError: an object of another model (also a
            ``TypeError``).
        BulkInputError: a value the field's conversion refuses, an unsaved
            related object, a multi-table child model, 0 in an ``AutoField``
            on MySQL/MariaDB without ``NO_AUTO_VALUE_ON_ZERO``; it names
            model, field, 1-based row and value. Raised before anything of
            that chunk is written (and, atomic, with everything rolled back).
        BulkPartialFailureError: ``atomic=False`` and a chunk failed.

    Examples:
        >>> authors = [Author(name=f"Author {i}") for i in range(10_000)]
        >>> created = bulk_create_in_steps(Author, authors, step=1000)
        >>> created[0].pk is not None
        True
        >>> rows = (Author(name=f"Author {i}") for i in range(1_000_000))
        >>> bulk_create_in_steps(Author, rows, step=5000, return_objects=False)
        1000000
    """
    alias = _checked_call(model, step, threads, using)
    plan = InsertPlan(
        model, connections[alias], alias, step, keep_objects=return_objects
    )
    try:
        if rejects is not None:
            created = create_objects_rejecting(
                plan, bulk, step=step, rejects=rejects, progress=progress
            )
            return created if return_objects else len(created)
        if atomic:
            streamed = _create_in_one_copy(
                plan,
                bulk,
                step,
                threads=threads,
                progress=progress,
                return_objects=return_objects,
            )
            if streamed is not None:
                return streamed
        if not return_objects:
            return _count_created(
                plan, bulk, step, threads=threads, atomic=atomic, progress=progress
            )
        return _create(
            plan, bulk, step, threads=threads, atomic=atomic, progress=progress
        )
    except BaseException:
        # The rejects path is one transaction whatever ``atomic`` says.
        if atomic or rejects is not None:
            plan.forget_written()
        raise


def _run_inserts[M: Model, R](
    plan: InsertPlan[M],
    bulk: Iterable[M],
    step: int,
    execute: Callable[[Any], R],
    *,
    threads: int | None,
    atomic: bool,
    progress: Progress | None,
) -> list[R]:
    """Insert ``bulk`` chunk by chunk; one ``execute`` result per chunk."""
    model = plan.model
    # A self-referencing model may point at objects of an earlier chunk, whose
    # keys exist only once that chunk is written: prepare strictly in order.
    self_referencing = model in _related_models(model)
    return _run(
        model,
        plan.alias,
        _validated_chunks(plan, bulk, step),
        plan.prepare,
        execute,
        threads=threads,
        atomic=atomic,
        progress=progress,
        pipelined=not self_referencing,
    )


def _create_in_one_copy[M: Model](
    plan: InsertPlan[M],
    bulk: Iterable[M],
    step: int,
    *,
    threads: int | None,
    progress: Progress | None,
    return_objects: bool,
) -> list[M] | int | None:
    """Create ``bulk`` through one streamed COPY where it can; None if not.

    See :mod:`winidjango.src.db._insert_copy`. None (nothing read, nothing
    written) unless the plan writes plain rows with PostgreSQL's COPY. The
    chunks after one that cannot be streamed take the chunk-by-chunk path,
    in the same transaction. With ``return_objects=False`` the plan keeps no
    strong reference and neither does this: a count is returned instead.
    """
    # Only a list or tuple: no query can run while the COPY is open (it would
    # wait for the connection forever), and reading a generator or calling
    # progress() runs the caller's code, which may query. Neither would see
    # the rows of earlier chunks either, which the chunked path shows them.
    if not can_stream(plan) or progress is not None or not isinstance(bulk, Sequence):
        return None
    alias = plan.alias
    keep = return_objects
    chunks = _validated_chunks(plan, bulk, step)  # a list is checked here
    keys: deque[int] = deque()
    # Keys are drawn before the COPY starts, which needs the number of
    # objects without a key: known for a list, not for a generator.
    needed = plan.keys_needed(bulk) if isinstance(bulk, Sequence) else None
    counted = needed is not None
    with transaction.atomic(using=alias):
        if needed:
            writer = plan.writer
            assert isinstance(writer, PostgreSqlWriter)
            with connections[alias].cursor() as cursor:
                sequence = writer.key_sequence(
                    cursor, plan.table, str(plan.pk_field.column)
                )
                if sequence is None:
                    counted = False  # keys from a default the server runs
                else:
                    keys.extend(writer.reserve_keys(cursor, sequence, needed))
        stream = OneCopy(
            plan, keys, count_first=not counted, progress=progress, keep_objects=keep
        )
        left = stream.run(chunks)
        rest: list[Any] = []
        if left is not None:
            execute: Callable[[Any], Any] = plan.execute
            if not keep:

                def execute(prepared: Any) -> int:
                    return len(plan.execute(prepared))

            rest = _run(
                plan.model,
                alias,
                with_drawn_keys(plan, left, keys),
                plan.prepare,
                execute,
                threads=threads,
                atomic=True,
                progress=progress,
                pipelined=plan.model not in _related_models(plan.model),
            )
    logger.debug(
        "created %s objects on %s, %s",
        plan.model.__name__,
        alias,
        "in one COPY" if left is None else "in one COPY and then chunk by chunk",
    )
    if keep:
        return [*stream.created, *(obj for result in rest for obj in result)]
    count: int = stream.count + sum(rest)
    return count


def _create[M: Model](
    plan: InsertPlan[M],
    bulk: Iterable[M],
    step: int,
    *,
    threads: int | None,
    atomic: bool,
    progress: Progress | None,
) -> list[M]:
    results = _run_inserts(
        plan,
        bulk,
        step,
        plan.execute,
        threads=threads,
        atomic=atomic,
        progress=progress,
    )
    created = [obj for chunk_result in results for obj in chunk_result]
    logger.debug(
        "created %d %s objects on %s", len(created), plan.model.__name__, plan.alias
    )
    return created


def _count_created[M: Model](
    plan: InsertPlan[M],
    bulk: Iterable[M],
    step: int,
    *,
    threads: int | None,
    atomic: bool,
    progress: Progress | None,
) -> int:
    """Like :func:`_create`, but hold on to no chunk once it is written."""

    def execute_and_count(prepared: Any) -> int:
        return len(plan.execute(prepared))

    results = _run_inserts(
        plan,
        bulk,
        step,
        execute_and_count,
        threads=threads,
        atomic=atomic,
        progress=progress,
    )
    return sum(results)


def bulk_create_from_frame(
    model: type[Model],
    df: pl.DataFrame,
    step: int = 1000,
    *,
    using: str | None = None,
    threads: int | None = None,
    atomic: bool = True,
    progress: Progress | None = None,
    rejects: list[Reject] | None = None,
) -> int:
    """Write the rows of a polars DataFrame into ``model``'s table; return the count.

    No model instance is built: the frame's columns are converted to database
    values a column at a time and written with the backend's fastest insert.
    With ``atomic=True``, PostgreSQL gets one COPY for the whole frame, fed
    ``step`` rows at a time (``step`` bounds the rows held in memory), and
    MariaDB/MySQL one ``LOAD DATA LOCAL INFILE`` when the database's
    ``OPTIONS`` ask for ``local_infile`` and the server allows it; otherwise
    (and on SQLite) one statement per chunk of ``step`` rows. Use it for
    imports where building one object per row is the main cost.

    A column is named after a concrete field, by ``name`` or ``attname``; a
    foreign key takes the related row's key (``author`` or ``author_id``).
    Columns left out get the field's default (a callable default is called
    per row), the database's ``db_default``, or a generated primary key;
    ``auto_now``/``auto_now_add`` fields get the current time.

    The whole frame is checked before anything is written (the same checks
    as :func:`check_frame`): unknown, duplicated or missing required
    columns; column types (text fields take ``String``, integer fields
    integers, ``DateTimeField`` an aware
    ``Datetime`` when ``USE_TZ`` is on, ...); nulls in non-null fields;
    strings over ``max_length``; values outside ``choices``; integers outside
    the column's range; decimals the column would round; any value that
    would not read back exactly (nanoseconds, years outside 1-9999, integers
    a double would round, NaN where the backend cannot keep it, JSON the
    field's encoder refuses); two rows with the same value in a unique field
    or constraint. The error names the column and the first bad row
    (counted from 1). Fields without a column-wise conversion
    (``UUIDField``, ``JSONField``, custom fields) are converted value by value
    with the field's own methods, also before the first write.

    As with Django's ``bulk_create``, no signals are sent and ``save()`` is
    not called; primary keys are not returned. ``using``, ``threads``,
    ``atomic`` and ``progress`` work as for :func:`bulk_create_in_steps`.

    With ``rejects=[]`` (a list), bad rows are set aside instead of ending
    the call: each row the checks or the database refuse is appended to the
    list as a :class:`~winidjango.src.db.rejects.Reject` (1-based row, column,
    reason, value) and every other row is written, in one transaction (see
    :mod:`winidjango.src.db.rejects`). A refusal of the whole frame (an
    unknown column, a column of the wrong type) is still raised.

    Raises:
        BulkInputTypeError: ``df`` is not a DataFrame, or a column has the
            wrong type (also a ``TypeError``).
        BulkInputError: a column or value the model cannot take, or one that
            would not read back as it is (see above and ``docs/bulk.md``);
            ``row`` is 1-based. Also a ``ValueError``.

    Examples:
        >>> df = pl.DataFrame({"name": ["Ann", "Bob"], "birth_year": [1970, None]})
        >>> bulk_create_from_frame(Author, df)
        2
        >>> books = pl.DataFrame({"title": ["Notes"], "author_id": [1], "pages": [80]})
        >>> bulk_create_from_frame(Book, books, step=10_000)
        1
        >>> rejects: list[Reject] = []
        >>> bulk_create_from_frame(Author, df, rejects=rejects)  # bad rows aside
        2
    """
    alias = _checked_call(model, step, threads, using)
    if rejects is not None:
        if not isinstance(df, pl.DataFrame):
            FramePlan(model, df, connections[alias])  # raises, explaining
        return load_frame_rejecting(
            model, df, step=step, alias=alias, rejects=rejects, progress=progress
        )
    connection = connections[alias]
    plan = FramePlan(model, df, connection)
    writer = get_writer(connection)
    table, columns = plan.table, plan.columns

    if atomic:
        written = _write_frame_at_once(plan, writer, alias, step, progress)
        if written is not None:
            logger.debug(
                "wrote %d %s rows from a frame on %s", written, model.__name__, alias
            )
            return written

    def execute(rows: list[tuple[Any, ...]]) -> int:
        # The executing thread's connection: a worker's own with atomic=False.
        with connections[alias].cursor() as cursor:
            writer.insert_rows(cursor, table, columns, rows, None)
        return len(rows)

    results = _run(
        model,
        alias,
        plan.chunks(step),
        plan.rows,
        execute,
        threads=threads,
        atomic=atomic,
        progress=progress,
    )
    written = sum(results)
    logger.debug("wrote %d %s rows from a frame on %s", written, model.__name__, alias)
    return written


def _write_frame_at_once(
    plan: FramePlan,
    writer: BulkSqlWriter,
    alias: str,
    step: int,
    progress: Progress | None,
) -> int | None:
    """Write the whole frame in one statement where the backend can; else None.

    PostgreSQL: one ``COPY`` fed chunk by chunk, so ``step`` still bounds the
    rows held in memory while the server sees a single statement. MariaDB and
    MySQL: one ``LOAD DATA LOCAL INFILE`` when the connection allows it (see
    :mod:`winidjango.src.db._backends.mysql`). Both run in one transaction,
    so a failure anywhere leaves nothing written.
    """
    model = plan.model
    connection = connections[alias]
    # psycopg2 has no COPY of Python rows (the writer inserts instead).
    if isinstance(writer, PostgreSqlWriter) and writer.uses_copy:

        def chunks() -> Iterator[list[tuple[Any, ...]]]:
            previous = 0
            for chunk in plan.chunks(step):
                # Reported once its rows are in the COPY stream.
                if previous and progress is not None:
                    progress(model, previous)
                rows = plan.rows(chunk)
                previous = len(rows)
                yield rows
            if previous and progress is not None:
                progress(model, previous)

        with transaction.atomic(using=alias), connection.cursor() as cursor:
            writer.copy_chunks(cursor, plan.table, plan.columns, chunks())
        return plan.height
    if isinstance(writer, MySqlWriter) and plan.height:
        if not writer.can_load_data_infile(connection):
            return None
        load = writer.load_data_plan(*plan.sources())
        if load is None:
            return None
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            writer.load_data_infile(cursor, plan.table, load)
        if progress is not None:
            # Written at once, reported in the caller's chunks as elsewhere.
            for chunk in plan.chunks(step):
                progress(model, chunk.height)
        return plan.height
    return None


def check_frame(
    model: type[Model], df: pl.DataFrame, *, using: str | None = None
) -> None:
    """Raise what :func:`bulk_create_from_frame` would refuse, writing nothing.

    For a check of several frames before the first of them is written, as
    ``ImportDataBaseCommand`` does. Also refuses two rows of the frame that
    share a value that must be unique (a unique field or constraint).

    Examples:
        >>> check_frame(Author, pl.DataFrame({"name": ["Ann", None]}))
        Traceback (most recent call last):
        BulkInputError: column 'name' (Author.name), row 2: null, but the field ...
    """
    check_model(model)
    alias = _database_for(model, using)
    FramePlan(model, df, connections[alias], check_only=True)


def _related_models(model: type[Model]) -> set[type[Model]]:
    return {
        field.related_model
        for field in get_model_meta(model).concrete_fields
        if field.is_relation and isinstance(field.related_model, type)
    }


def bulk_update_in_steps[M: Model](
    model: type[M],
    bulk: Iterable[M],
    update_fields: Sequence[str],
    step: int = 1000,
    *,
    using: str | None = None,
    threads: int | None = None,
    atomic: bool = True,
    progress: Progress | None = None,
) -> int:
    """Write ``update_fields`` of saved objects in chunks; return rows updated.

    Each chunk is one ``UPDATE`` joined to the chunk's new values instead of
    Django's ``CASE WHEN`` chains: on PostgreSQL one array per column,
    unnested (a ``VALUES`` list for column types or values an array cannot
    carry); on SQLite ``UPDATE ... FROM (VALUES ...)``; on MariaDB/MySQL a
    join to a derived ``UNION ALL`` table.
    Fields with ``auto_now=True`` (such as ``BaseModel.updated_at``) are
    refreshed as ``save()`` would. No signals are sent, as with Django's
    ``bulk_update``. Threads, transactions and ``using`` work as for
    :func:`bulk_create_in_steps`.

    Values are written as Django's ``bulk_update`` writes them (the
    attribute, then ``get_db_prep_save``). A field inherited from a
    multi-table parent is written to the parent's table. A chunk holding an
    SQL expression as a value (``F("pages") + 1``) is written by Django's own
    ``bulk_update``. The same row twice in one call (two objects with one
    key, in one chunk or in two): the first copy wins, as in Django's
    ``bulk_update``; the later copies are left out.

    Raises:
        BulkInputError: ``update_fields`` empty, unknown, a primary key, a
            many-to-many or reverse relation; an unsaved object; an update
            field deferred and not set; a value the field refuses. It names
            model, field, 1-based row and value. Also a ``ValueError``.
        BulkInputTypeError: an object of another model, or an expression as
            an object's key. Also a ``TypeError``.
        TypeError, ValueError: bad ``step``.

    Examples:
        >>> for author in authors:
        ...     author.name = author.name.upper()
        >>> bulk_update_in_steps(Author, authors, ["name"])
        10000
    """
    alias = _checked_call(model, step, threads, using)
    fields = resolve_update_fields(model, update_fields)
    connection = connections[alias]
    plan = UpdatePlan(model, fields, connection, alias, step)
    # Read in input order in this thread: the first copy of a row wins.
    chunks = map(plan.mark_repeats, _validated_chunks(plan, bulk, step))
    results = _run(
        model,
        alias,
        chunks,
        plan.prepare,
        plan.execute,
        threads=threads,
        atomic=atomic,
        progress=progress,
    )
    return sum(results)


def bulk_delete_in_steps[M: Model](
    model: type[M],
    bulk: Iterable[M],
    step: int = 1000,
    *,
    using: str | None = None,
    threads: int | None = None,
    atomic: bool = True,
    progress: Progress | None = None,
) -> tuple[int, dict[str, int]]:
    """Delete saved objects in chunks, cascades and signals included.

    Deletes exactly as ``QuerySet.delete()`` would: ``on_delete`` rules
    (CASCADE, SET_NULL, PROTECT, RESTRICT), ``pre_delete``/``post_delete``
    signals and counts. A model nothing points at, without delete signal
    receivers, is deleted with one ``DELETE`` by primary key per chunk
    (integer keys written into the statement as digits). Cascades, when no
    model they reach has a delete signal receiver, run set-based: one
    statement per relation per chunk, children first (``SET_NULL`` as one
    ``UPDATE``). Signals, self-references, multi-table inheritance, generic
    relations, ``SET_DEFAULT``/``SET()``, and chunks with rows that a
    PROTECT or RESTRICT relation points at go through Django's deletion
    ``Collector`` chunk by chunk, which raises its own errors.
    Collecting needs the database, so in atomic mode chunks run one after the
    other in the caller's thread; ``threads`` only matters with
    ``atomic=False`` (concurrent chunks on separate connections).

    Returns:
        ``(total, {model_label: count})`` summed over all chunks, cascades
        included, e.g. ``(3, {"library.Author": 1, "library.Book": 2})``.

    Raises:
        ProtectedError, RestrictedError: as ``QuerySet.delete()``; with
            ``atomic=True`` nothing is deleted.
        ValueError: an unsaved object; bad ``step``.
        TypeError: an object of another model.

    Examples:
        >>> bulk_delete_in_steps(Author, Author.objects.filter(name__startswith="A"))
        (3, {'library.Author': 1, 'library.Book': 2})
    """
    alias = _checked_call(model, step, threads, using)
    plan = DeletePlan(model, alias, connections[alias])
    chunks = _validated_chunks(plan, bulk, step)
    results = _run(
        model,
        alias,
        chunks,
        plan.prepare,
        plan.execute,
        threads=threads,
        atomic=atomic,
        progress=progress,
        pipelined=False,
    )
    return sum_delete_counts(results)


def bulk_create_bulks_in_steps(
    bulk_by_class: Mapping[type[Model], Iterable[Model]],
    step: int = 1000,
    *,
    using: str | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> dict[type[Model], list[Model]]:
    """Create objects of several models in foreign-key order, all or nothing.

    The models are sorted with :func:`topological_sort_models`, so parents are
    inserted before the children that point to them, whatever the order of
    ``bulk_by_class``. A child that was given an unsaved parent object gets
    that parent's new id. Objects that are already saved (loaded from or
    written to the database) are not inserted again. Everything happens in one
    transaction: if any model fails, no model's rows remain.

    Returns:
        ``{model: newly created objects}``, in dependency order.

    Raises:
        graphlib.CycleError: the models' foreign keys form a cycle.

    Examples:
        >>> authors = [Author(name="Ann")]
        >>> books = [Book(title="Notes", author=authors[0])]
        >>> created = bulk_create_bulks_in_steps({Book: books, Author: authors})
        >>> books[0].author_id == authors[0].pk
        True
    """
    check_step(step)
    check_threads(threads)
    for model in bulk_by_class:
        check_model(model)
    models = topological_sort_models(bulk_by_class)
    if not models:
        if using is not None:
            _database_for(Model, using)
        return {}
    alias = _database_for(models[0], using)
    created: dict[type[Model], list[Model]] = {}
    plans: list[InsertPlan[Model]] = []
    try:
        with transaction.atomic(using=alias):
            for model in models:
                plan = InsertPlan(model, connections[alias], alias, step)
                plans.append(plan)
                unsaved = _UnsavedOf(bulk_by_class[model])
                created[model] = _create(
                    plan,
                    unsaved,
                    step,
                    threads=threads,
                    atomic=True,
                    progress=progress,
                )
    except BaseException:
        # Every model's rows are gone: parents written before the failure
        # must not pass for saved in a retry.
        for plan in plans:
            plan.forget_written()
        raise
    return created


def _comparison_fields(fields: Iterable[AnyField]) -> list[AnyField]:
    """The fields whose values say whether two rows hold the same data."""
    kept = []
    for field in fields:
        if not getattr(field, "concrete", False) or field.many_to_many:
            continue
        if getattr(field, "primary_key", False) and field.auto_created:
            continue
        if getattr(field, "primary_key", False) and type(field).__name__.endswith(
            "AutoField"
        ):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        kept.append(field)
    return kept


def _single_model(objs: Sequence[Model], name: str) -> type[Model] | None:
    models = {get_model_meta(obj).concrete_model for obj in objs}
    if len(models) > 1:
        names = sorted(model.__name__ for model in models if model is not None)
        message = f"{name} mixes models: {names}"
        raise ValueError(message)
    return next(iter(models), None)


def get_differences_between_bulks[M: Model](
    bulk1: Iterable[M],
    bulk2: Iterable[M],
    fields: Sequence[AnyField],
) -> tuple[list[M], list[M], list[M], list[M]]:
    """Split two bulks by whether their objects hold the same ``fields`` values.

    Objects are compared by content, saved or not, so rows loaded from the
    database can be diffed against fresh unsaved objects. Not compared:
    auto-created primary keys, fields set by Django on save (``auto_now``,
    ``auto_now_add``), many-to-many and reverse relations. A foreign key
    compares by the related id.

    Returns:
        ``(in_1_not_2, in_2_not_1, in_both_from_1, in_both_from_2)``: the
        original objects, in their original order.

    Raises:
        ValueError: the bulks hold different models (or one mixes models).

    Examples:
        >>> old = list(Author.objects.all())          # Ann, Bob
        >>> new = [Author(name="Bob"), Author(name="Cy")]
        >>> gone, added, kept_old, kept_new = get_differences_between_bulks(
        ...     old, new, get_fields(Author)
        ... )
        >>> [a.name for a in gone], [a.name for a in added]
        (['Ann'], ['Cy'])
    """
    objs1, objs2 = list(bulk1), list(bulk2)
    model1 = _single_model(objs1, "bulk1")
    model2 = _single_model(objs2, "bulk2")
    if model1 is not None and model2 is not None and model1 is not model2:
        message = (
            f"cannot compare {model1.__name__} objects with {model2.__name__} objects"
        )
        raise ValueError(message)
    compared = _comparison_fields(fields)
    keys1 = [instance_values(obj, compared) for obj in objs1]
    keys2 = [instance_values(obj, compared) for obj in objs2]
    set1, set2 = set(keys1), set(keys2)
    in_1_not_2 = [obj for obj, key in zip(objs1, keys1, strict=True) if key not in set2]
    in_2_not_1 = [obj for obj, key in zip(objs2, keys2, strict=True) if key not in set1]
    in_both_1 = [obj for obj, key in zip(objs1, keys1, strict=True) if key in set2]
    in_both_2 = [obj for obj, key in zip(objs2, keys2, strict=True) if key in set1]
    return in_1_not_2, in_2_not_1, in_both_1, in_both_2


def simulate_bulk_deletion[M: Model](
    model_class: type[M],
    entries: Iterable[M],
    *,
    using: str | None = None,
) -> dict[type[Model], set[Model]]:
    """Return everything deleting ``entries`` would remove, without deleting.

    Uses Django's deletion ``Collector``, the code a real delete runs, and only
    reads: every object that would be deleted, cascades (and multi-table
    parents) included, grouped by model. Rows that would merely be updated
    (``SET_NULL``, ``SET_DEFAULT``) are not listed.

    Raises:
        ProtectedError, RestrictedError: the delete would be refused; the
            error names the blocking objects, as a real delete's does.

    Examples:
        >>> preview = simulate_bulk_deletion(Author, Author.objects.filter(pk=1))
        >>> sorted(model.__name__ for model in preview)
        ['Author', 'Book', 'Review']
    """
    check_model(model_class)
    alias = _database_for(model_class, using)
    return preview_deletion({model_class: list(entries)}, alias)


def multi_simulate_bulk_deletion(
    entries: Mapping[type[Model], Iterable[Model]],
    *,
    using: str | None = None,
) -> dict[type[Model], set[Model]]:
    """Preview deleting objects of several models at once.

    Works like :func:`simulate_bulk_deletion`, with one Collector for all.

    Examples:
        >>> preview = multi_simulate_bulk_deletion(
        ...     {Author: [author], Tag: list(Tag.objects.all())}
        ... )
        >>> len(preview[Book])
        2
    """
    for model in entries:
        check_model(model)
    if not entries:
        if using is not None:
            _database_for(Model, using)
        return {}
    alias = _database_for(next(iter(entries)), using)
    return preview_deletion(
        {model: list(objs) for model, objs in entries.items()}, alias
    )
