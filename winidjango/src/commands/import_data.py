"""A management command template for imports: read, clean, build, load.

:class:`ImportDataBaseCommand` runs an import as fixed steps, each one a
method a subclass can override, three of which it must write:

1. ``read``: :meth:`~ImportDataBaseCommand.handle_import` returns the raw data
   as a polars ``DataFrame``;
2. ``clean``: the winiutils ``CleaningDF`` subclass from
   :meth:`~ImportDataBaseCommand.get_cleaning_df_cls` cleans it;
3. ``build``: :meth:`~ImportDataBaseCommand.get_bulks_by_model` turns the
   cleaned rows into unsaved model objects, or, per model, into a polars
   ``DataFrame`` with one column per field (much faster for large tables:
   no object is built);
4. ``check``: the objects and frames are checked for values the database
   would refuse;
5. ``write``: :meth:`~ImportDataBaseCommand.import_to_db` bulk-creates them in
   foreign-key order (frames with ``bulk_create_from_frame``);
6. ``delete`` (with ``--delete``): rows that are not in the imported data are
   previewed, confirmed and deleted.

All steps run inside the base command's transaction: bad data found at any
step writes nothing, and ``--dry-run`` and ``--timeout`` roll back the whole
import. A deletion that is not confirmed is skipped; the import is kept.
"""

import time
from abc import abstractmethod
from argparse import ArgumentParser
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import polars as pl
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import CommandError
from django.db import DataError, IntegrityError, connections, router
from django.db.models import Model, ProtectedError, RestrictedError
from winiutils.core.data.dataframe.cleaning import CleaningDF

from winidjango.src.commands._checks import (
    check_bulks,
    check_column_types,
    check_columns,
)
from winidjango.src.commands._progress import ChunkProgress, StepProgress
from winidjango.src.commands._report import ImportReport
from winidjango.src.commands.base.base import ABCBaseCommand, hook_errors
from winidjango.src.db.bulk import (
    bulk_create_bulks_in_steps,
    bulk_create_from_frame,
    bulk_delete_in_steps,
    check_frame,
    get_differences_between_bulks,
    simulate_bulk_deletion,
)
from winidjango.src.db.fields import AnyField
from winidjango.src.db.models import topological_sort_models

__all__ = ["ImportDataBaseCommand", "ImportReport"]


def _label(model: type[Model]) -> str:
    return str(model._meta.label)


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{label} {count}" for label, count in counts.items())


type _Bulk = list[Model] | pl.DataFrame
"""One model's share of an import: unsaved objects, or a frame of its rows."""


class _Bulks(dict[type[Model], _Bulk]):
    """A ``{model: objects or frame}`` dict whose text is a one-line summary.

    ABCLoggingMeta logs ``str()`` of the arguments and the result of every
    method call, building the full string before shortening it; for 200,000
    model instances that is about a second per logged call. The import passes
    its objects between steps in this class so that the log line stays cheap.
    """

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{_label(model)}: {len(objs)}" for model, objs in self.items()
        )
        return f"<bulks {sizes or 'empty'}>"

    __str__ = __repr__


class ImportDataBaseCommand(ABCBaseCommand):
    """Import data into the database: read, clean, build objects or frames, write.

    Write three methods: :meth:`handle_import` (read the raw data),
    :meth:`get_cleaning_df_cls` (the cleaning rules) and
    :meth:`get_bulks_by_model` (rows to model objects, or to one polars
    frame per model). The rest comes with the class: objects and frames are
    checked, created in foreign-key order with ``bulk_create_bulks_in_steps``
    or ``bulk_create_from_frame`` (``--batch_size`` rows per query,
    ``--threads`` threads, a progress bar on a terminal's stderr), a report
    is printed and kept as :attr:`report`, and the whole run is one
    transaction, so bad data writes nothing.

    ``--delete`` also removes the rows of the imported models that are not in
    the imported data, matched on the fields :meth:`get_delete_match_fields`
    names; a preview with cascades is printed and :meth:`confirm` decides.

    Examples:
        >>> class Command(ImportDataBaseCommand):
        ...     def handle_import(self) -> pl.DataFrame:
        ...         return pl.read_csv("authors.csv")
        ...
        ...     def get_cleaning_df_cls(self) -> type[CleaningDF]:
        ...         return AuthorCleaningDF
        ...
        ...     def get_bulks_by_model(
        ...         self, df: pl.DataFrame
        ...     ) -> dict[type[Model], Iterable[Model]]:
        ...         rows = df.iter_rows(named=True)
        ...         return {Author: [Author(name=row["name"]) for row in rows]}
    """

    help = (
        "Import data: read it, clean it, build model objects or frames and "
        "bulk-create them."
    )
    # The whole import is one transaction: bad data found at any step, a
    # timeout or an interrupt writes nothing.
    atomic = True

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        no_color: bool = False,
        force_color: bool = False,
    ) -> None:
        super().__init__(stdout, stderr, no_color, force_color)
        self.report = ImportReport()

    # -- the hooks a subclass writes ----------------------------------------

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        """Add nothing: an import needs no arguments beyond the common ones.

        Override it to add some, e.g. the path of the file to read.

        Examples:
            >>> def add_command_arguments(self, parser):
            ...     parser.add_argument("csv_path")
        """

    @abstractmethod
    def handle_import(self) -> pl.DataFrame:
        """Read the raw data from its source (file, API, other database).

        Column names and types are those of the source; cleaning comes next.

        Examples:
            >>> def handle_import(self):
            ...     return pl.read_csv(self.get_option("csv_path"))
        """

    @abstractmethod
    def get_cleaning_df_cls(self) -> type[CleaningDF]:
        """Return the ``CleaningDF`` subclass that cleans the raw data.

        Its rename map says which raw columns are needed, its dtype map the
        type of each one; data that does not fit stops the import.

        Examples:
            >>> def get_cleaning_df_cls(self):
            ...     return UserCleaningDF
        """

    @abstractmethod
    def get_bulks_by_model(
        self, df: pl.DataFrame
    ) -> Mapping[type[Model], Iterable[Model] | pl.DataFrame]:
        """Turn the cleaned rows into unsaved model objects, or frames, per model.

        Objects may point to unsaved objects of another model in the mapping;
        the parents are created first and the children get their ids. Objects
        that are already saved are left as they are.

        A model may instead get a polars ``DataFrame`` with one column per
        field (named by field name or ``attname``; a foreign key holds the
        related row's key). Its rows are written by
        ``bulk_create_from_frame`` without building any object, several
        times faster for large tables; they are checked as that function
        says, before anything is written.

        Examples:
            >>> def get_bulks_by_model(self, df):
            ...     rows = df.iter_rows(named=True)
            ...     users = [User(username=row["name"]) for row in rows]
            ...     return {User: users, Profile: [Profile(user=u) for u in users]}
            >>> def get_bulks_by_model(self, df):  # the same rows as frames
            ...     return {Country: df.select("code", "name")}
        """

    def get_delete_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        """Name, per model, the fields that identify a row, for ``--delete``.

        With ``--delete``, a row of a listed model whose values in these
        fields match no imported object is deleted (after a preview and
        :meth:`confirm`). A foreign key matches by the related id. Only the
        models listed here are cleaned up; by default none are, and
        ``--delete`` is refused.

        For a model given as a frame, the same fields also recognise the rows
        already in the database: those rows are left out of the write and
        counted as already saved, so that running an import twice adds
        nothing (a frame cannot carry saved objects the way a list can).

        Examples:
            >>> def get_delete_match_fields(self):
            ...     return {Author: ["name"], Book: ["title", "author"]}
        """
        return {}

    # -- the steps ----------------------------------------------------------

    def handle_command(self) -> None:
        """Run the import steps in order, timing each, then print the report.

        Examples:
            >>> call_command(ImportUsersCommand(), dry_run=True)  # doctest: +SKIP
        """
        self.report = ImportReport(dry_run=self.dry_run)
        self._full_frames: dict[type[Model], pl.DataFrame] = {}
        if self.delete:
            with hook_errors("delete", "get_delete_match_fields"):
                self._check_delete_match_fields()
        with self._step("read", "handle_import") as step:
            raw = self._read()
            step.rows = raw.height
        with self._step("clean", "clean_data", total=raw.height) as step:
            cleaned = self.clean_data(raw)
            step.rows = raw.height
        with self._step("build", "get_bulks_by_model", total=cleaned.height) as step:
            bulks = self._build(cleaned)
            step.rows = cleaned.height
        objects = sum(len(bulk) for bulk in bulks.values())
        with self._step("check", total=objects) as step:
            self._check(bulks)
            self._check_delete_models(bulks)
            step.rows = objects
        for model in bulks:
            self.include_in_transaction(self._alias_for(model))
        with self._step("write", "import_to_db") as step:
            self._write(bulks)
            step.rows = sum(self.report.created.values())
        if self.delete:
            with self._step("delete", "delete_stale_rows") as step:
                # Frames compare in full: rows already saved are imported too.
                self.delete_stale_rows({**bulks, **self._full_frames})
                step.rows = sum(self.report.deleted.values())
        # The progress lines end here, above the report.
        self.progress_display.close()
        for line in self.report.lines():
            self.say(line)

    def clean_data(self, df: pl.DataFrame) -> pl.DataFrame:
        """Clean the raw frame with the class from :meth:`get_cleaning_df_cls`.

        A missing column or a value of the wrong type is reported with its
        column (and row) before cleaning starts; any other refusal of the
        cleaning class becomes a ``CommandError`` with its message.

        Examples:
            >>> command.clean_data(pl.DataFrame({"name": [" Ann "]}))  # doctest: +SKIP
            shape: (1, 1) ... "Ann"
        """
        cleaning_cls = self.get_cleaning_df_cls()
        check_columns(df, cleaning_cls)
        df = check_column_types(df, cleaning_cls)
        try:
            return cleaning_cls(df).df
        except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as error:
            message = f"{cleaning_cls.__name__} refused the data: {error}"
            raise CommandError(message) from error

    def import_to_db(
        self, bulks: Mapping[type[Model], Iterable[Model] | pl.DataFrame]
    ) -> dict[type[Model], list[Model] | int]:
        """Create the rows in foreign-key order; return what was created per model.

        Objects go through ``bulk_create_bulks_in_steps`` and frames through
        ``bulk_create_from_frame``, with ``--batch_size``, ``--threads`` and
        ``--database``, and a progress bar per model. Returns the new objects
        of a model given as objects, and the number of rows written for a
        model given as a frame.

        Examples:
            >>> created = command.import_to_db({Author: [Author(name="Ann")]})
            >>> created[Author][0].pk is not None
            True
            >>> command.import_to_db({Tag: pl.DataFrame({"name": ["a", "b"]})})
            {<class 'Tag'>: 2}
        """
        given = {
            model: bulk if isinstance(bulk, pl.DataFrame) else list(bulk)
            for model, bulk in bulks.items()
        }
        pending = {
            model: (
                bulk.height
                if isinstance(bulk, pl.DataFrame)
                else sum(1 for obj in bulk if obj._state.adding)
            )
            for model, bulk in given.items()
        }
        progress = self._progress(pending, verb="creating")
        created: dict[type[Model], list[Model] | int] = {}
        try:
            objects_only = {
                model: bulk
                for model, bulk in given.items()
                if not isinstance(bulk, pl.DataFrame)
            }
            if len(objects_only) == len(given):
                objects = bulk_create_bulks_in_steps(
                    objects_only,
                    self.batch_size,
                    using=self.database,
                    threads=self.threads,
                    progress=progress,
                )
                created.update(objects)
                return created
            # Frames and objects mixed: model by model, parents first, all in
            # the command's transaction.
            for model in topological_sort_models(given):
                bulk = given[model]
                if isinstance(bulk, pl.DataFrame):
                    created[model] = bulk_create_from_frame(
                        model,
                        bulk,
                        self.batch_size,
                        using=self.database,
                        threads=self.threads,
                        progress=progress,
                    )
                else:
                    created.update(
                        bulk_create_bulks_in_steps(
                            {model: bulk},
                            self.batch_size,
                            using=self.database,
                            threads=self.threads,
                            progress=progress,
                        )
                    )
        finally:
            progress.close()
        return created

    def delete_stale_rows(
        self, imported: Mapping[type[Model], Sequence[Model] | pl.DataFrame]
    ) -> None:
        """Delete the rows that the imported data no longer contains, if confirmed.

        For every model of :meth:`get_delete_match_fields`, the rows in the
        database are compared with the imported objects on the named fields;
        rows without a match are stale. What deleting them would remove,
        cascades included, is printed per model, then :meth:`confirm` asks.

        Examples:
            >>> command.delete_stale_rows({Author: [ann]})  # doctest: +SKIP
            To delete (not in the imported data; cascades included): testapp.Author 1
        """
        stale = {
            model: self._find_stale_rows(model, imported[model], names)
            for model, names in self.get_delete_match_fields().items()
        }
        preview = self._preview_deletion(stale)
        if not preview:
            self.say("Nothing to delete: every row is in the imported data.")
            return
        self.say(
            "To delete (not in the imported data; cascades included): "
            + _counts_text(preview)
        )
        total = sum(preview.values())
        rows = "row" if total == 1 else "rows"
        if not self.confirm(f"Delete {total} {rows} ({_counts_text(preview)})?"):
            self.report.deletion_skipped = True
            self.say(self.style.WARNING("Deletion skipped: nothing was deleted."))
            return
        self.report.deleted = self._delete(stale)

    # -- helpers --------------------------------------------------------------

    @contextmanager
    def _step(
        self, name: str, hook: str | None = None, *, total: int | None = None
    ) -> Iterator[StepProgress]:
        self.check_timeout()
        self.say(f"step: {name}", level=2)
        started = time.perf_counter()
        # An unexpected error in the step (a subclass's hook included) is
        # a CommandError naming the step and the hook, chained to it. On a
        # terminal the step has a progress line; the caller sets its rows.
        with hook_errors(name, hook), self.progress_display.step(name, total) as step:
            yield step
        self.report.seconds[name] = time.perf_counter() - started

    def _read(self) -> pl.DataFrame:
        df = self.handle_import()
        if not isinstance(df, pl.DataFrame):
            message = (
                f"{type(self).__name__}.handle_import() must return a polars "
                f"DataFrame, not {type(df).__name__}"
            )
            raise CommandError(message)
        self.report.rows_read = df.height
        return df

    def _build(self, cleaned: pl.DataFrame) -> _Bulks:
        self.report.rows_kept = cleaned.height
        given = self.get_bulks_by_model(cleaned)
        if not isinstance(given, Mapping):
            message = (
                f"{type(self).__name__}.get_bulks_by_model() must return a mapping "
                f"of model class to objects, not {type(given).__name__}"
            )
            raise CommandError(message)
        bulks = _Bulks()
        for model, objs in given.items():
            if not (isinstance(model, type) and issubclass(model, Model)):
                message = (
                    f"get_bulks_by_model() returned a key that is no model: {model!r}"
                )
                raise CommandError(message)
            if isinstance(objs, pl.DataFrame):
                bulks[model] = self._without_saved_rows(model, objs)
            else:
                bulks[model] = list(objs)
        return bulks

    def _without_saved_rows(self, model: type[Model], frame: pl.DataFrame) -> Any:
        """The rows of ``frame`` not in the database yet, by the match fields.

        Without match fields for ``model``, every row is new.
        """
        names = self.get_delete_match_fields().get(model)
        if not names or isinstance(names, str):
            return frame
        fields = self._match_fields(model, names)
        columns = [column for column, _ in self._match_columns(model, frame, fields)]
        attnames = [getattr(field, "attname", field.name) for field in fields]
        saved = model._default_manager.using(self._alias_for(model)).values_list(
            *attnames
        )
        try:
            keys = pl.DataFrame(
                list(saved), schema=frame.select(columns).schema, orient="row"
            )
        except (TypeError, ValueError, pl.exceptions.PolarsError) as error:
            message = (
                f"The {_label(model)} frame's columns {columns} cannot hold the "
                f"saved rows' {', '.join(names)} values to compare: {error}"
            )
            raise CommandError(message) from error
        self._full_frames[model] = frame
        return frame.join(keys, on=columns, how="anti", nulls_equal=True)

    def _check(self, bulks: _Bulks) -> None:
        """Check objects and frames alike before anything is written."""
        objects: dict[type[Model], list[Model]] = {}
        for model, bulk in bulks.items():
            if not isinstance(bulk, pl.DataFrame):
                objects[model] = bulk
                continue
            try:
                check_frame(model, bulk, using=self._alias_for(model))
            except (TypeError, ValueError) as error:
                message = f"The {_label(model)} frame was refused: {error}"
                raise CommandError(message) from error
        check_bulks(objects)

    def _alias_for(self, model: type[Model]) -> str:
        return self.database or router.db_for_write(model)

    def _progress(
        self, totals: Mapping[type[Model], int], *, verb: str
    ) -> ChunkProgress:
        return ChunkProgress(
            self.stderr,
            totals,
            enabled=self.verbosity >= 1,
            verb=verb,
            on_chunk=self.check_timeout,
            display=self.progress_display,
        )

    def _write(self, bulks: _Bulks) -> None:
        try:
            created = self.import_to_db(bulks)
            self._check_deferred_constraints(bulks)
        except (IntegrityError, DataError) as error:
            # The first line says what was refused; PostgreSQL's DETAIL line
            # says which value (e.g. the key a foreign key did not find).
            lines = str(error).strip().splitlines()
            shown = " ".join(
                line.strip()
                for index, line in enumerate(lines)
                if index == 0 or line.startswith("DETAIL")
            )
            kind = type(error).__name__
            message = f"The database refused the data: {kind}: {shown}"
            raise CommandError(message) from error
        except (TypeError, ValueError) as error:
            kind = type(error).__name__
            message = f"The objects could not be written: {kind}: {error}"
            raise CommandError(message) from error
        # The created dict is in dependency order, the order to report in.
        for model in dict.fromkeys([*created, *bulks]):
            label = _label(model)
            done = created.get(model, 0)
            self.report.created[label] = done if isinstance(done, int) else len(done)
            given = self._full_frames.get(model, bulks[model])
            self.report.already_saved[label] = len(given) - self.report.created[label]

    def _check_deferred_constraints(self, bulks: _Bulks) -> None:
        """Check now the foreign keys the database would check at commit.

        PostgreSQL and SQLite (as Django creates their tables) check foreign
        keys only when the transaction commits, where an error would escape
        as a bare ``IntegrityError`` after the report. Checking here makes it
        a ``CommandError`` naming the row, with everything rolled back, as
        Django's ``loaddata`` does.
        """
        tables_by_alias: dict[str, list[str]] = {}
        for model in bulks:
            tables = tables_by_alias.setdefault(self._alias_for(model), [])
            tables.append(model._meta.db_table)
        for alias, tables in tables_by_alias.items():
            connection = connections[alias]
            if connection.features.can_defer_constraint_checks:
                connection.check_constraints(table_names=tables)

    def _match_fields(self, model: type[Model], names: Sequence[str]) -> list[AnyField]:
        fields = []
        for name in names:
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                message = (
                    f"get_delete_match_fields(): {_label(model)} has no field {name!r}"
                )
                raise CommandError(message) from None
            if not getattr(field, "concrete", False) or field.many_to_many:
                message = (
                    f"get_delete_match_fields(): {_label(model)}.{name} is not a "
                    "column of the model's table and cannot identify a row"
                )
                raise CommandError(message)
            fields.append(field)
        return fields

    def _check_delete_match_fields(self) -> None:
        fields_by_model = self.get_delete_match_fields()
        if not fields_by_model:
            message = (
                f"--delete needs {type(self).__name__}.get_delete_match_fields() "
                "to name, per model, the fields that identify a row"
            )
            raise CommandError(message)
        for model, names in fields_by_model.items():
            if isinstance(names, str) or not names:
                message = (
                    "get_delete_match_fields() must give a non-empty list of field "
                    f"names for {_label(model)}, not {names!r}"
                )
                raise CommandError(message)
            self._match_fields(model, names)

    def _check_delete_models(self, bulks: _Bulks) -> None:
        if not self.delete:
            return
        missing = [_label(m) for m in self.get_delete_match_fields() if m not in bulks]
        if missing:
            # Comparing with no imported objects would make every row stale.
            message = (
                "--delete: get_delete_match_fields() names models the import does "
                f"not build: {', '.join(missing)}"
            )
            raise CommandError(message)

    def _find_stale_rows(
        self,
        model: type[Model],
        imported: Sequence[Model] | pl.DataFrame,
        names: Sequence[str],
    ) -> list[Model]:
        fields = self._match_fields(model, names)
        if isinstance(imported, pl.DataFrame):
            imported = self._match_objects(model, imported, fields)
        existing = model._default_manager.using(self._alias_for(model)).order_by("pk")
        stale, _, _, _ = get_differences_between_bulks(list(existing), imported, fields)
        return stale

    def _match_objects(
        self, model: type[Model], frame: pl.DataFrame, fields: Sequence[AnyField]
    ) -> list[Model]:
        """Objects holding only the match fields of a frame's rows, to compare."""
        columns = self._match_columns(model, frame, fields)
        rows = frame.select([column for column, _ in columns]).iter_rows()
        attnames = [attname for _, attname in columns]
        return [model(**dict(zip(attnames, row, strict=True))) for row in rows]

    def _match_columns(
        self, model: type[Model], frame: pl.DataFrame, fields: Sequence[AnyField]
    ) -> list[tuple[str, str]]:
        """``(frame column, attname)`` per match field; refuse a missing one."""
        columns = []
        for field in fields:
            attname = getattr(field, "attname", field.name)
            found = [c for c in (field.name, attname) if c in frame.columns]
            if not found:
                message = (
                    f"the {_label(model)} frame has no column for match field "
                    f"{field.name!r}"
                )
                raise CommandError(message)
            columns.append((found[0], attname))
        return columns

    def _preview_deletion(
        self, stale: Mapping[type[Model], list[Model]]
    ) -> dict[str, int]:
        # A row can be stale itself and also cascade from a stale parent;
        # counting primary keys per model counts it once.
        doomed: dict[str, set[Any]] = {}
        for model, rows in stale.items():
            if not rows:
                continue
            try:
                preview = simulate_bulk_deletion(
                    model, rows, using=self._alias_for(model)
                )
            except (ProtectedError, RestrictedError) as error:
                reason = error.args[0]
                message = f"The stale {_label(model)} rows cannot be deleted: {reason}"
                raise CommandError(message) from error
            for doomed_model, objs in preview.items():
                doomed.setdefault(_label(doomed_model), set()).update(
                    o.pk for o in objs
                )
        return {label: len(pks) for label, pks in doomed.items() if pks}

    def _delete(self, stale: Mapping[type[Model], list[Model]]) -> dict[str, int]:
        # Children before parents: a parent's cascade then never reaches a
        # child row that was already deleted as stale itself.
        order = list(reversed(topological_sort_models(stale)))
        progress = self._progress({m: len(stale[m]) for m in order}, verb="deleting")
        deleted: dict[str, int] = {}
        try:
            for model in order:
                if not stale[model]:
                    continue
                _, counts = bulk_delete_in_steps(
                    model,
                    stale[model],
                    self.batch_size,
                    using=self._alias_for(model),
                    threads=self.threads,
                    progress=progress,
                )
                for label, count in counts.items():
                    deleted[label] = deleted.get(label, 0) + count
        finally:
            progress.close()
        return deleted
