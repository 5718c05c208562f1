"""``--processes N``: the import's cleaning and build steps in worker processes.

The import command's writes stay in the parent, in its single transaction;
only the CPU-bound steps before them run in workers:

- **clean**: the raw frame is cut into N contiguous slices and each worker
  runs the cleaning class on one. The parent concatenates the slices in
  order and applies the cleaning rules that span the whole data once more
  (duplicates per unique subset, with the added-up columns, then the sort
  and the final checks), so that a key repeated in two slices is handled as
  in one process: the first row is kept and the ``get_add_on_duplicate_cols``
  columns hold the sum over all of them. A cleaning class with more than one
  unique subset cleans in the command's process, where this would not hold.
- **build**: the cleaned frame is cut again and each worker runs the
  command's ``get_bulks_by_model`` on its slice, on a copy of the command
  (its class, options and the attributes that can be pickled). Objects come
  back pickled, frames as Arrow IPC inside the pickle; the parent joins each
  model's rows in slice order. For a model with key fields, a row whose key
  an earlier slice already gave is dropped and the first slice's row kept,
  as a build that keeps the first row per key does in one process (a
  command that builds a small table from its own attributes gives it in
  every slice); objects that pointed to a dropped object point to the kept
  one. Rows repeating a key within one slice are kept, so that the checks
  after the build refuse them as in one process.

Workers are started with the ``spawn`` method: a fresh interpreter that
imports Django with the same ``DJANGO_SETTINGS_MODULE`` and no copy of the
parent's open connections or threads. A worker that reads the database (a
build that looks up saved rows) uses a connection of its own, outside the
command's transaction, and closes it when its slice is done. The pool is kept
for the next call in the same process and shut down when the process exits.
"""

import atexit
import multiprocessing
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from importlib import import_module
from typing import TYPE_CHECKING, Any

import polars as pl
from django.core.management.base import CommandError
from django.db.models import ForeignObject, Model
from winiutils.core.data.dataframe.cleaning import CleaningDF

# Nothing here may define a model at import: a spawned worker imports this
# module (for its initializer) before Django is set up.
if TYPE_CHECKING:
    from winidjango.src.commands.import_data import ImportDataBaseCommand

#: Fewest rows per slice: below it, starting workers costs more than it saves.
MIN_ROWS_PER_PROCESS = 1000

#: Command attributes never sent to a worker (streams, the terminal style).
_LOCAL_ATTRIBUTES = frozenset({"stdout", "stderr", "stdin", "style"})

_pools: dict[tuple[int, str], Executor] = {}


def slices(height: int, processes: int) -> list[tuple[int, int]]:
    """Cut ``height`` rows into at most ``processes`` contiguous ``(start, end)``.

    Slices are at least :data:`MIN_ROWS_PER_PROCESS` rows long, except when
    there is only one, and differ in length by at most one row.

    Examples:
        >>> slices(5000, 2)
        [(0, 2500), (2500, 5000)]
        >>> slices(1500, 4)
        [(0, 1500)]
    """
    parts = max(1, min(processes, height // MIN_ROWS_PER_PROCESS))
    size, extra = divmod(height, parts)
    bounds = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _rows_text(start: int, end: int, index: int, count: int) -> str:
    return f"rows {start + 1}-{end} (process {index + 1} of {count})"


# -- the pool -------------------------------------------------------------------


def _start_worker(settings_module: str | None) -> None:
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django  # noqa: PLC0415 - Django is set up in the worker, not on import

    django.setup()


def _pool(processes: int) -> Executor:
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
    key = (processes, settings_module)
    pool = _pools.get(key)
    if pool is None:
        pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(settings_module,),
        )
        _pools[key] = pool
    return pool


def shutdown_pools() -> None:
    """Stop the worker processes kept for later calls.

    Called when the interpreter exits; call it sooner in a long-running
    process that will not import with ``--processes`` again.

    Examples:
        >>> shutdown_pools()
    """
    while _pools:
        _, pool = _pools.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_pools)


def _run(
    processes: int,
    function: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
) -> list[tuple[Any, BaseException | None]]:
    """Run ``function(*task)`` for every task in the pool; results in order.

    Each result comes with the exception its task raised, or ``None``; a pool
    whose worker died is dropped, so that the next call starts a new one.
    """
    pool = _pool(processes)
    futures = [pool.submit(function, *task) for task in tasks]
    results: list[tuple[Any, BaseException | None]] = []
    try:
        for future in futures:
            # exception() returns what the worker raised; what interrupts the
            # wait here (--timeout's alarm, Ctrl-C) propagates as it is.
            error = future.exception()
            results.append((None if error else future.result(), error))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    if any(isinstance(error, BrokenProcessPool) for _, error in results):
        for key, kept in list(_pools.items()):
            if kept is pool:
                del _pools[key]
        pool.shutdown(wait=False, cancel_futures=True)
    return results


# -- clean ------------------------------------------------------------------------


def _clean_slice(cleaning_cls: type[CleaningDF], frame: pl.DataFrame) -> pl.DataFrame:
    return cleaning_cls(frame).df


def clean_in_processes(
    cleaning_cls: type[CleaningDF], df: pl.DataFrame, *, processes: int
) -> pl.DataFrame:
    """Clean ``df`` with ``cleaning_cls`` in up to ``processes`` workers.

    Gives the frame that ``cleaning_cls(df).df`` gives (see the module's
    docstring for how rules across slices are kept). A slice the cleaning
    class refuses raises the worker's exception, its message prefixed with
    the slice's rows. A frame too small for two slices, a class defined
    inside a function (which cannot be sent to a worker) and a class with
    more than one unique subset (whose duplicates depend on the order of the
    rules across the whole data) are cleaned here, in one process.

    Examples:
        >>> clean_in_processes(BookCleaningDF, raw, processes=2)  # doctest: +SKIP
    """
    bounds = slices(df.height, processes)
    if (
        len(bounds) == 1
        # A class defined inside a function cannot reach a worker by pickle.
        or "<locals>" in cleaning_cls.__qualname__
        # With two unique subsets, a slice can drop a row under the second
        # that the whole data would have dropped under the first instead.
        or len(cleaning_cls.get_unique_subsets()) > 1
    ):
        return cleaning_cls(df).df
    tasks = [(cleaning_cls, df.slice(start, end - start)) for start, end in bounds]
    parts = []
    for index, (result, error) in enumerate(_run(len(bounds), _clean_slice, tasks)):
        if error is not None:
            where = "clean, " + _rows_text(*bounds[index], index, len(bounds))
            raise _with_rows(error, where) from error
        parts.append(result)
    merger = cleaning_cls.__new__(cleaning_cls)
    merger.df = pl.concat(parts, how="vertical")
    merger.handle_duplicates()
    merger.sort_cols()
    merger.check()
    return merger.df


def _with_rows(error: BaseException, where: str) -> BaseException:
    """The same kind of error, its message starting with the slice's rows."""
    message = f"{where}: {error}"
    try:
        return type(error)(message)
    except Exception:
        return CommandError(f"{type(error).__name__}: {message}")


# -- build ------------------------------------------------------------------------


def _picklable_state(command: "ImportDataBaseCommand") -> dict[str, bytes]:
    """The command's attributes that a worker can have, each pickled."""
    state: dict[str, bytes] = {}
    for name, given in vars(command).items():
        if name in _LOCAL_ATTRIBUTES:
            continue
        value = given
        if isinstance(given, dict) and name == "options":
            # call_command(stdin=...) puts a stream among the options.
            value = {k: v for k, v in given.items() if _picklable(v)}
        try:
            state[name] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            continue
    return state


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _build_slice(
    command_path: tuple[str, str],
    state: dict[str, bytes],
    databases: dict[str, str],
    frame: pl.DataFrame,
) -> bytes:
    import io  # noqa: PLC0415

    from django.core.management.base import OutputWrapper  # noqa: PLC0415
    from django.core.management.color import no_style  # noqa: PLC0415
    from django.db import connections  # noqa: PLC0415

    for alias, name in databases.items():
        if alias in connections.settings:
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = name
    module, qualname = command_path
    command_cls: Any = import_module(module)
    for part in qualname.split("."):
        command_cls = getattr(command_cls, part)
    # Not __init__: a subclass's may take other arguments, and the state
    # copied from the parent is what __init__ and the run have set.
    command = command_cls.__new__(command_cls)
    command.stdout = OutputWrapper(io.StringIO())
    command.stderr = OutputWrapper(io.StringIO())
    command.style = no_style()
    for name, value in state.items():
        vars(command)[name] = pickle.loads(value)
    try:
        given = command.get_bulks_by_model(frame)
        bulks = {
            model: bulk if isinstance(bulk, pl.DataFrame) else list(bulk)
            for model, bulk in dict(given).items()
        }
        return pickle.dumps(bulks, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        connections.close_all()


def build_in_processes(
    command: "ImportDataBaseCommand",
    df: pl.DataFrame,
    *,
    processes: int,
    keys: Mapping[type[Model], Sequence[str]],
) -> dict[type[Model], list[Model] | pl.DataFrame]:
    """Run ``command.get_bulks_by_model`` on slices of ``df`` in workers.

    Returns the bulks of all slices, each model's rows in slice order; for
    the models in ``keys``, a key that an earlier slice already gave keeps
    that slice's row (see :func:`merge_bulks`). A frame too small for two
    slices is built here. A worker's error becomes a ``CommandError`` naming
    the build step and the slice's rows.

    Examples:
        >>> build_in_processes(command, df, processes=2, keys={})  # doctest: +SKIP
    """
    bounds = slices(df.height, processes)
    if len(bounds) == 1:
        given = command.get_bulks_by_model(df)
        return {
            model: bulk if isinstance(bulk, pl.DataFrame) else list(bulk)
            for model, bulk in dict(given).items()
        }
    from django.db import connections  # noqa: PLC0415

    cls = type(command)
    path = (cls.__module__, cls.__qualname__)
    if "<locals>" in cls.__qualname__:
        message = (
            f"--processes: {cls.__qualname__} must be importable by a worker "
            "process (defined at the top level of a module, not inside a "
            "function)"
        )
        raise CommandError(message)
    state = _picklable_state(command)
    # A test database, or a NAME changed at run time, is what the parent uses.
    databases = {
        alias: str(connections[alias].settings_dict["NAME"])
        for alias in connections.settings
    }
    tasks = [
        (path, state, databases, df.slice(start, end - start)) for start, end in bounds
    ]
    parts: list[dict[type[Model], list[Model] | pl.DataFrame]] = []
    for index, (result, error) in enumerate(_run(len(bounds), _build_slice, tasks)):
        if error is not None:
            where = _rows_text(*bounds[index], index, len(bounds))
            message = (
                f"build, {where}: {cls.__name__}.get_bulks_by_model() failed: "
                f"{type(error).__name__}: {error}"
            )
            raise CommandError(message) from error
        parts.append(pickle.loads(result))
    return merge_bulks(parts, keys=keys)


def merge_bulks(
    parts: Sequence[Mapping[type[Model], list[Model] | pl.DataFrame]],
    *,
    keys: Mapping[type[Model], Sequence[str]],
) -> dict[type[Model], list[Model] | pl.DataFrame]:
    """Join the bulks of several slices, model by model, in slice order.

    For a model in ``keys``, a row (or object) whose key an earlier slice
    already gave is dropped: the first slice's row stays, as ``keep="first"``
    would keep it in one process; objects that pointed to a dropped object
    point to the kept one instead. Rows repeating a key within one slice are
    kept, so that the checks refuse them as they would in one process.

    Examples:
        >>> merge_bulks([{Tag: [Tag(name="a")]}, {Tag: [Tag(name="a")]}], keys={Tag: ["name"]})
        {<class 'Tag'>: [<Tag: a>]}
    """  # noqa: E501
    from winidjango.src.db.imports import key_fields  # noqa: PLC0415
    from winidjango.src.db.models import topological_sort_models  # noqa: PLC0415

    models = list(dict.fromkeys(model for part in parts for model in part))
    replaced: dict[int, Model] = {}
    merged: dict[type[Model], list[Model] | pl.DataFrame] = {}
    for model in topological_sort_models(models):
        given = [part[model] for part in parts if model in part]
        fields = key_fields(model, keys[model]) if model in keys else []
        frames = [bulk for bulk in given if isinstance(bulk, pl.DataFrame)]
        if frames and len(frames) != len(given):
            message = (
                f"get_bulks_by_model() gave {model._meta.label} as a frame in "
                "some slices and as objects in others"
            )
            raise CommandError(message)
        if frames:
            merged[model] = _merge_frames(frames, fields)
        else:
            lists = [bulk for bulk in given if not isinstance(bulk, pl.DataFrame)]
            merged[model] = _merge_objects(lists, fields, replaced)
    if replaced:
        for bulk in merged.values():
            if not isinstance(bulk, pl.DataFrame):
                _repoint(bulk, replaced)
    return {model: merged[model] for model in models}


def _merge_frames(frames: list[pl.DataFrame], fields: Sequence[Any]) -> pl.DataFrame:
    if not fields:
        return pl.concat(frames, how="vertical_relaxed")
    columns = []
    for field in fields:
        names = [field.name, getattr(field, "attname", field.name)]
        found = [name for name in names if name in frames[0].columns]
        if not found:
            # Left for the frame check to refuse, as in one process.
            return pl.concat(frames, how="vertical_relaxed")
        columns.append(found[0])
    slice_column = "__winidjango_slice__"
    joined = pl.concat(
        [
            frame.with_columns(pl.lit(index, dtype=pl.Int32).alias(slice_column))
            for index, frame in enumerate(frames)
        ],
        how="vertical_relaxed",
    )
    first = pl.col(slice_column).min().over(columns)
    # A row without a full key is no copy of another: the checks see it.
    incomplete = pl.any_horizontal(pl.col(name).is_null() for name in columns)
    kept = (pl.col(slice_column) == first) | incomplete
    return joined.filter(kept).drop(slice_column)


def _merge_objects(
    lists: list[list[Model]], fields: Sequence[Any], replaced: dict[int, Model]
) -> list[Model]:
    if not fields:
        return [obj for objs in lists for obj in objs]
    seen: dict[Any, Model] = {}
    merged: list[Model] = []
    for objs in lists:
        found: dict[Any, Model] = {}
        for obj in objs:
            key = _key(obj, fields, replaced)
            kept = seen.get(key)
            if kept is not None:
                replaced[id(obj)] = kept
                continue
            found.setdefault(key, obj)
            merged.append(obj)
        for key, obj in found.items():
            seen.setdefault(key, obj)
    return merged


def _key(obj: Model, fields: Sequence[Any], replaced: Mapping[int, Model]) -> Any:
    """The object's key; a relation to an unsaved object counts by identity."""
    values: list[Any] = []
    for field in fields:
        value: Any = getattr(obj, field.attname)
        if isinstance(field, ForeignObject) and field.is_cached(obj):
            related = field.get_cached_value(obj)
            if related is not None and related.pk is None:
                value = ("unsaved", id(replaced.get(id(related), related)))
        values.append(_hashable(value))
    return tuple(values)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return ("unhashable", repr(value))
    return value


def _repoint(objs: list[Model], replaced: Mapping[int, Model]) -> None:
    if not objs:
        return
    relations = [
        field
        for field in objs[0]._meta.concrete_fields
        if isinstance(field, ForeignObject)
    ]
    targets = {type(obj) for obj in replaced.values()}
    relations = [
        field
        for field in relations
        if any(issubclass(target, field.related_model) for target in targets)
    ]
    if not relations:
        return
    for obj in objs:
        for field in relations:
            if not field.is_cached(obj):
                continue
            related = field.get_cached_value(obj)
            if related is not None and id(related) in replaced:
                setattr(obj, field.name, replaced[id(related)])
