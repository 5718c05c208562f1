"""A management command template for imports: read, clean, build, sync.

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
5. ``write``: with keys (:meth:`~ImportDataBaseCommand.get_match_fields`),
   the data is synced: a plan says what to create, update, leave and
   (``--delete``) delete; the plan is printed, the deletion guard and the
   confirmation decide, then the plan is applied. Without keys, the rows
   are created (:meth:`~ImportDataBaseCommand.import_to_db`).

The engine (foreign-key-ordered writes, key matching, deferred constraint
checks) is in :mod:`winidjango.src.db.imports` and :mod:`winidjango.src.db.sync`,
callable without a command.

With ``--processes N`` (N of 2 or more) the clean and build steps run in
worker processes (:mod:`winidjango.src.commands._parallel`); the steps after
them, and every write, stay in the command's process.

All steps run inside the base command's transaction: bad data found at any
step writes nothing, and ``--dry-run`` and ``--timeout`` roll back the whole
import. A deletion that is refused (the guard) or not confirmed stops the
command with an error before anything is written.
"""

import time
import warnings
from abc import abstractmethod
from argparse import ArgumentParser, ArgumentTypeError
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import polars as pl
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DataError, IntegrityError, router, transaction
from django.db.models import Model, ProtectedError, Q, RestrictedError
from winiutils.core.data.dataframe.cleaning import CleaningDF

from winidjango.src.commands._batches import iter_batches
from winidjango.src.commands._checks import (
    check_bulks,
    check_column_types,
    check_columns,
)
from winidjango.src.commands._cleaning import Dropped, clean_tracked
from winidjango.src.commands._options import positive_int
from winidjango.src.commands._parallel import build_in_processes, clean_in_processes
from winidjango.src.commands._progress import ChunkProgress, StepProgress
from winidjango.src.commands._rejects import (
    RejectLimit,
    RejectLog,
    objects_without_refused,
    reject_kind,
    reject_limit,
)
from winidjango.src.commands._report import ImportReport
from winidjango.src.commands.base.base import ABCBaseCommand, hook_errors
from winidjango.src.db.bulk import (
    bulk_delete_in_steps,
    check_frame,
    simulate_bulk_deletion,
)
from winidjango.src.db.exceptions import StalePlanError
from winidjango.src.db.imports import (
    check_deferred_constraints,
    find_missing_rows,
    frame_without_refused,
    key_fields,
    key_frame,
    without_saved_rows,
    write_bulks,
)
from winidjango.src.db.ledger import ImportLedger, LedgerMismatchError, fingerprint
from winidjango.src.db.models import topological_sort_models
from winidjango.src.db.rejects import Reject
from winidjango.src.db.sync import SyncPlan, plan_sync_bulks

__all__ = [
    "DeleteLimit",
    "Dropped",
    "ImportDataBaseCommand",
    "ImportReport",
    "clean_tracked",
]

#: Sample keys shown per model in a deletion preview.
SAMPLE_KEYS = 5
_LOAD_CHUNK = 1000


def _label(model: type[Model]) -> str:
    return str(model._meta.label)


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{label} {count}" for label, count in counts.items())


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


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


@dataclass(frozen=True)
class DeleteLimit:
    """The most rows ``--delete`` may remove per model without ``--force``.

    Either a number of rows (``--max-delete 500``) or a share of the model's
    rows in the delete scope, counted before the run (``--max-delete 10%``,
    the default).

    Examples:
        >>> DeleteLimit.parse("10%").allows(10, total=100)
        True
        >>> DeleteLimit.parse("10%").allows(11, total=100)
        False
        >>> DeleteLimit.parse("500").allows(501, total=10_000)
        False
    """

    rows: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> "DeleteLimit":
        """Read ``N`` or ``P%``; raise ``ArgumentTypeError`` for anything else."""
        value = str(text).strip()
        try:
            if value.endswith("%"):
                percent = float(value[:-1])
                if not 0 <= percent <= 100:
                    raise ValueError(value)
                return cls(percent=percent)
            rows = int(value)
            if rows < 0:
                raise ValueError(value)
            return cls(rows=rows)
        except ValueError:
            message = (
                "must be a number of rows (e.g. 500) or a percentage of the "
                f"model's rows (e.g. 10%), got {text!r}"
            )
            raise ArgumentTypeError(message) from None

    def allows(self, rows: int, *, total: int) -> bool:
        """Whether deleting ``rows`` of ``total`` rows stays within the limit."""
        if self.rows is not None:
            return rows <= self.rows
        percent = self.percent if self.percent is not None else 0.0
        return rows * 100 <= percent * total

    def __str__(self) -> str:
        """The limit as the option is written."""
        if self.rows is not None:
            return str(self.rows)
        return f"{self.percent:g}%"


def _delete_limit(text: str) -> DeleteLimit:
    return DeleteLimit.parse(text)


@dataclass
class _Deletion:
    """What ``--delete`` would remove from one model, for the guard.

    ``rows`` of the model itself (cascades are shown, not counted), of
    ``total`` rows in the delete scope before the run; ``imported`` rows of
    the model are in the imported data.
    """

    model: type[Model]
    rows: int
    total: int
    imported: int


class ImportDataBaseCommand(ABCBaseCommand):
    """Import data into the database: read, clean, build objects or frames, sync.

    Write three methods: :meth:`handle_import` (read the raw data),
    :meth:`get_cleaning_df_cls` (the cleaning rules) and
    :meth:`get_bulks_by_model` (rows to model objects, or to one polars
    frame per model). The rest comes with the class: objects and frames are
    checked, written in foreign-key order (``--batch_size`` rows per query,
    ``--threads`` threads, a progress bar on a terminal's stderr), a report
    is printed and kept as :attr:`report`, and the whole run is one
    transaction, so bad data writes nothing.

    Name each model's key fields in :meth:`get_match_fields` and the import
    becomes a sync: new rows are created, changed rows updated, unchanged
    rows left untouched, and with ``--delete`` rows whose key is no longer
    in the source are deleted, after a preview, a guard against mass
    deletions (``--max-delete``, ``--force``) and :meth:`confirm`.

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
        ...
        ...     def get_match_fields(self) -> dict[type[Model], list[str]]:
        ...         return {Author: ["name"]}  # Author.name is unique
    """

    help = (
        "Import data: read it, clean it, build model objects or frames and "
        "write them (a sync when the command names key fields)."
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
        # Source row numbers of each model's data in the part being written
        # (import_to_db may also be called on its own, outside a run).
        self._rows_of: dict[type[Model], list[int] | None] = {}

    # -- the hooks a subclass writes ----------------------------------------

    def add_arguments(self, parser: ArgumentParser) -> None:
        """Add the common options, ``--max-delete``, then the subclass's own.

        Examples:
            >>> call_command(command, delete=True, max_delete="5%")  # doctest: +SKIP
        """
        parser.add_argument(
            "--max-delete",
            "--max_delete",
            dest="max_delete",
            type=_delete_limit,
            default=DeleteLimit(percent=10.0),
            metavar="N|P%",
            help=(
                "With --delete: refuse (unless --force) to delete more than N "
                "rows, or P%% of a model's rows, of any model (default 10%%). "
                "Cascaded rows are shown but not counted."
            ),
        )
        parser.add_argument(
            "--rejects",
            metavar="PATH",
            help=(
                "Set bad rows aside instead of stopping: rows the checks or the "
                "database refuse, and rows the cleaning drops, are written to "
                "this CSV file (row, model, column, reason, source values) and "
                "every other row is imported."
            ),
        )
        parser.add_argument(
            "--max-rejects",
            "--max_rejects",
            dest="max_rejects",
            type=reject_limit,
            default=None,
            metavar="N|P%",
            help=(
                "With --rejects: stop and write nothing when more than N rows, "
                "or P%% of the rows read, are set aside."
            ),
        )
        parser.add_argument(
            "--commit-every",
            "--commit_every",
            dest="commit_every",
            type=positive_int,
            default=None,
            metavar="N",
            help=(
                "Commit every batch of N rows in its own transaction, with a "
                "ledger row, so that --resume can go on after a crash. Without "
                "it the whole import is one transaction."
            ),
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help=(
                "With --commit-every: skip the batches an interrupted run of "
                "this import committed (the same source is required)."
            ),
        )
        super().add_arguments(parser)

    def base_handle(self, *args: Any, **options: Any) -> None:
        """Check the import's own options; ``--commit-every`` drops the transaction.

        Examples:
            >>> command.base_handle(commit_every=0)  # doctest: +SKIP
            Traceback (most recent call last):
            CommandError: --commit-every must be a whole number >= 1, got 0
        """
        super().base_handle(*args, **options)
        every = options.get("commit_every")
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            message = f"--commit-every must be a whole number >= 1, got {every!r}"
            raise CommandError(message)
        if options.get("resume") and every is None:
            message = "--resume needs --commit-every (the batches to skip)"
            raise CommandError(message)
        limit = options.get("max_rejects")
        if isinstance(limit, str):
            # call_command() hands options over without argparse's type=.
            try:
                self.options["max_rejects"] = reject_limit(limit)
            except ArgumentTypeError as error:
                raise CommandError(f"--max-rejects {error}") from None
        if limit is not None and not options.get("rejects"):
            message = "--max-rejects needs --rejects (where the rows set aside go)"
            raise CommandError(message)
        if every is not None and options.get("delete"):
            message = (
                "--delete compares the whole source with the table, so it "
                "cannot be combined with --commit-every; run the deletion as "
                "a separate import of the whole source"
            )
            raise CommandError(message)
        # Each batch commits on its own: no transaction around the run.
        self.atomic = every is None
        self._committed_batches = 0

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
        """Turn the cleaned rows into model objects, or frames, per model.

        Objects may point to unsaved objects of another model in the mapping;
        the parents are written first and the children get their ids.

        With keys (:meth:`get_match_fields`), an object may also be one
        loaded from the database and changed here: it is compared with its
        row like any other and its changes are written. Without keys, only
        unsaved objects are written; saved ones are left as they are (the
        report counts them as "already saved, left as is" and warns when
        there are any).

        A model may instead get a polars ``DataFrame`` with one column per
        field (named by field name or ``attname``; a foreign key holds the
        related row's key). No object is built for its rows, several times
        faster for large tables; they are checked as ``check_frame`` says,
        before anything is written.

        Examples:
            >>> def get_bulks_by_model(self, df):
            ...     rows = df.iter_rows(named=True)
            ...     users = [User(username=row["name"]) for row in rows]
            ...     return {User: users, Profile: [Profile(user=u) for u in users]}
            >>> def get_bulks_by_model(self, df):  # the same rows as frames
            ...     return {Country: df.select("code", "name")}
        """

    def get_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        """Name, per model, the fields that identify a row (its key).

        With keys, the import is a sync (see :mod:`winidjango.src.db.sync`):
        a row whose key is not in the database is created, a row whose other
        fields differ is updated, and an unchanged row gets no write at all
        (its ``auto_now`` fields keep their values). The database must
        enforce each key as unique (a unique field, unique constraint or
        ``unique_together``). Every model the import builds needs a key.

        With ``--delete``, rows of these models whose key is absent from the
        *source* are deleted; a row that the cleaning dropped was in the
        source (only broken), so its database row stays. By default no model
        has a key: rows are only created, and ``--delete`` is refused.

        Examples:
            >>> def get_match_fields(self):
            ...     return {Publisher: ["code"], Edition: ["isbn"]}
        """
        return {}

    def get_delete_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        """Deprecated: name the key fields in :meth:`get_match_fields` instead.

        Kept so that existing commands keep working, with their old meaning
        and a ``DeprecationWarning``: rows are created and never updated
        (for a frame, rows whose fields match a saved row are left out);
        ``--delete`` removes rows whose fields match no source row. These
        fields need not be unique. :meth:`get_match_fields` takes precedence
        when a command overrides both.

        Examples:
            >>> def get_delete_match_fields(self):
            ...     return {Author: ["name"], Book: ["title", "author"]}
        """
        return {}

    def get_source_keys(
        self, df: pl.DataFrame
    ) -> Mapping[type[Model], Iterable[Model] | pl.DataFrame]:
        """The source's rows per model, with none dropped, for ``--delete``.

        A row that the cleaning dropped (a blank required value, a bad date,
        a duplicate) was still in the source: ``--delete`` must not remove
        its database row. By default this runs :meth:`get_bulks_by_model`
        on :meth:`source_rows` (the raw rows renamed, typed and converted as
        the cleaning does, before any row is dropped); only the key fields
        of the result are used. Override it when the build cannot take such
        rows, or when rules outside the cleaning class drop rows.

        Examples:
            >>> def get_source_keys(self, df):
            ...     rows = self.source_rows(df)
            ...     return {Author: rows.select(pl.col("author_name").alias("name"))}
        """
        return self.get_bulks_by_model(self.source_rows(df))

    # -- the steps ----------------------------------------------------------

    def handle_command(self) -> None:
        """Run the import steps in order, timing each, then print the report.

        Examples:
            >>> call_command(ImportUsersCommand(), dry_run=True)  # doctest: +SKIP
        """
        self.report = ImportReport(dry_run=self.dry_run)
        keys, syncing = self._keys()
        if self.delete and not keys:
            message = (
                f"--delete needs {type(self).__name__}.get_match_fields() "
                "to name, per model, the fields that identify a row"
            )
            raise CommandError(message)
        self.rejects = RejectLog()
        self._seen_keys: dict[type[Model], set[tuple[Any, ...]]] = {}
        self._rows_of = {}
        self._committed_batches = 0
        self._batched = False
        with self._step("read", "handle_import") as step:
            data = self._read()
            if isinstance(data, pl.DataFrame):
                step.rows = data.height
        try:
            if isinstance(data, pl.DataFrame) and self._commit_every is None:
                self.report.batches = 1
                self._import_part(data, keys, syncing, first_row=1)
            else:
                if self.delete:
                    message = (
                        "--delete compares the whole source with the table; "
                        "handle_import() returned a source read in batches "
                        f"({type(data).__name__}), so return a DataFrame instead"
                    )
                    raise CommandError(message)
                self._import_batches(data, keys, syncing)
        finally:
            self._write_rejects()
        # The progress lines end here, above the report.
        self.progress_display.close()
        for line in self.report.lines():
            self.say(line)

    # -- one part of the data: all of it, or a batch ------------------------------

    def _import_part(
        self,
        raw: pl.DataFrame,
        keys: Mapping[type[Model], Sequence[str]],
        syncing: bool,
        *,
        first_row: int,
    ) -> None:
        """Clean, build, check and write ``raw``, whose first row is ``first_row``."""
        self.report.rows_read += raw.height
        # The counts of the parts before this one, which this part adds to.
        self._counts_before = {
            name: dict(getattr(self.report, name))
            for name in ("created", "updated", "unchanged", "already_saved")
        }
        self._refused_in_write: dict[type[Model], int] = {}
        with self._step("clean", "clean_data", total=raw.height) as step:
            cleaned, numbers = self._clean(raw, first_row)
            step.rows = raw.height
        with self._step("build", "get_bulks_by_model", total=cleaned.height) as step:
            bulks = self._build(cleaned, keys)
            step.rows = cleaned.height
            self._check_key_models(bulks, keys, syncing=syncing)
        rows_of: dict[type[Model], list[int] | None] = {
            model: numbers
            if numbers is not None and len(bulk) == cleaned.height
            else None
            for model, bulk in bulks.items()
        }
        objects = sum(len(bulk) for bulk in bulks.values())
        with self._step("check", total=objects) as step:
            if self._rejecting:
                bulks = self._set_aside(bulks, rows_of)
            else:
                self._check(bulks, rows_of)
            self._check_repeated_keys(bulks, keys, rows_of)
            step.rows = objects
        self._check_reject_limit()
        source: dict[type[Model], pl.DataFrame] = {}
        if self.delete:
            with self._step("source keys", "get_source_keys"):
                source = self._source_keys(raw, keys)
        if self._commit_every is None:
            for model in bulks:
                self.include_in_transaction(self.database_for(model))
        self._rows_of = rows_of
        if syncing:
            self._sync(bulks, keys, source)
        else:
            self._create(bulks, keys, source)
        self.rejects.keep_sources(raw, first_row)
        self._check_reject_limit()

    def _import_batches(
        self,
        data: Any,
        keys: Mapping[type[Model], Sequence[str]],
        syncing: bool,
    ) -> None:
        """Import ``data`` batch by batch (``--batch_size`` or ``--commit-every``)."""
        size = self._commit_every or self.batch_size
        alias = self.database or DEFAULT_DB_ALIAS
        self._batched = True
        ledger = None
        if self._commit_every is not None:
            ledger = ImportLedger(self.get_import_name(), using=alias)
            if not self.get_option("resume"):
                ledger.clear()
        first_row = 1
        for number, raw in enumerate(iter_batches(data, size)):
            self.check_timeout()
            self.report.batches += 1
            if ledger is None:
                self._import_part(raw, keys, syncing, first_row=first_row)
            else:
                digest = fingerprint(raw)
                try:
                    skip = self.get_option("resume") and ledger.skip(number, digest)
                except LedgerMismatchError as error:
                    raise CommandError(str(error)) from error
                if skip:
                    self.report.batches_skipped += 1
                    self.report.rows_read += raw.height
                else:
                    with transaction.atomic(using=alias):
                        self._import_part(raw, keys, syncing, first_row=first_row)
                        ledger.record(number, digest, raw.height)
                    self._committed_batches += 1
            first_row += raw.height
        if ledger is not None and not self.dry_run:
            ledger.clear()  # complete: a later run starts afresh

    def get_import_name(self) -> str:
        """The name of this import in the ``--commit-every`` ledger.

        Runs of the same name share their committed batches: ``--resume``
        skips those. The default is the command's module path; override it
        when one command imports several independent sources.

        Examples:
            >>> command.get_import_name()  # doctest: +SKIP
            'library.management.commands.import_authors'
        """
        return type(self).__module__

    def _clean(
        self, raw: pl.DataFrame, first_row: int
    ) -> tuple[pl.DataFrame, list[int] | None]:
        """The cleaned rows and each one's source row number.

        A subclass that overrides :meth:`clean_data` is cleaned by it, and
        its rows cannot be traced back: their numbers are then unknown.
        """
        if _overrides(type(self), "clean_data") or (self.processes or 1) > 1:
            # Cleaned elsewhere (the subclass, or worker processes on slices):
            # the rows cannot be traced back to their numbers.
            return self.clean_data(raw), None
        cleaning_cls = self.get_cleaning_df_cls()
        check_columns(raw, cleaning_cls)
        refused: dict[int, tuple[str, str, Any]] | None = (
            {} if self._rejecting else None
        )
        typed = check_column_types(raw, cleaning_cls, refused=refused)
        rows = list(range(first_row, first_row + raw.height))
        if refused:
            # A value of the wrong type sets its row aside before cleaning.
            label = cleaning_cls.__name__
            for index, (column, reason, value) in sorted(refused.items()):
                self.rejects.lines.append(
                    (first_row + index, label, column, f"{value!r} {reason}")
                )
                kinds = self.report.rejected.setdefault(label, {})
                kinds[reason] = kinds.get(reason, 0) + 1
            keep = [index not in refused for index in range(raw.height)]
            typed = typed.filter(pl.Series(keep, dtype=pl.Boolean))
            rows = [row for row, kept in zip(rows, keep, strict=True) if kept]
        try:
            cleaned = clean_tracked(
                cleaning_cls,
                typed,
                rows=rows,
                drop_required_nulls=self._rejecting,
            )
        except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as error:
            message = f"{cleaning_cls.__name__} refused the data: {error}"
            raise CommandError(message) from error
        self.rejects.add_dropped(cleaned.dropped, cleaning_cls.__name__)
        for row in cleaned.dropped:
            self.report.dropped[row.rule] = self.report.dropped.get(row.rule, 0) + 1
        return cleaned.df, cleaned.rows.to_list()

    @property
    def _rejecting(self) -> bool:
        return bool(self.options.get("rejects"))

    @property
    def _commit_every(self) -> int | None:
        every: int | None = self.options.get("commit_every")
        return every

    def _set_aside(
        self, bulks: _Bulks, rows_of: dict[type[Model], list[int] | None]
    ) -> _Bulks:
        """``bulks`` less the rows the checks refuse, which go to the reject file."""
        kept = _Bulks()
        for model, bulk in bulks.items():
            refused: list[Reject] = []
            alias = self.database_for(model)
            if isinstance(bulk, pl.DataFrame):
                try:
                    good, positions = frame_without_refused(model, bulk, alias, refused)
                except (TypeError, ValueError) as error:
                    message = f"The {_label(model)} frame was refused: {error}"
                    raise CommandError(message) from error
                kept[model] = good
            else:
                objs, positions = objects_without_refused(model, bulk, refused)
                kept[model] = objs
            numbers = rows_of.get(model)
            self._refused(model, refused, numbers)
            rows_of[model] = (
                [numbers[p] for p in positions] if numbers is not None else None
            )
        return kept

    def _refused(
        self, model: type[Model], refused: Sequence[Reject], numbers: Any
    ) -> None:
        if not refused:
            return
        self.rejects.add_refused(refused, numbers)
        reasons = self.report.rejected.setdefault(_label(model), {})
        for reject in refused:
            reason = reject_kind(reject.reason)
            reasons[reason] = reasons.get(reason, 0) + 1

    def _check_repeated_keys(
        self,
        bulks: _Bulks,
        keys: Mapping[type[Model], Sequence[str]],
        rows_of: dict[type[Model], list[int] | None],
    ) -> None:
        """Refuse (or set aside) a key that an earlier batch already had.

        Within one batch the checks and the sync refuse repeated keys; across
        batches only the keys seen so far can tell. They are kept in a set, so
        each batch costs its own size, not the size of all batches before it.
        """
        if not self._batched:
            return
        for model, key in keys.items():
            bulk = bulks.get(model)
            if bulk is None or not len(bulk):
                continue
            found = key_frame(model, bulk, key).rows()
            seen = self._seen_keys.setdefault(model, set())
            # A key with a null part (a foreign key to a parent created in
            # this batch, or a null value) matches nothing, as in the index.
            complete = [None not in k for k in found]
            repeated = [
                position
                for position, k in enumerate(found)
                if complete[position] and k in seen
            ]
            seen.update(k for k, whole in zip(found, complete, strict=True) if whole)
            if repeated:
                self._repeated(model, bulks, repeated, found[repeated[0]], rows_of)

    def _repeated(
        self,
        model: type[Model],
        bulks: _Bulks,
        positions: list[int],
        key: tuple[Any, ...],
        rows_of: dict[type[Model], list[int] | None],
    ) -> None:
        numbers = rows_of.get(model)
        first = positions[0]
        row = numbers[first] if numbers is not None else first + 1
        reason = f"key {_key_text(key)} repeats a row of an earlier batch"
        if not self._rejecting:
            message = (
                f"{_label(model)} row {row}: {reason}; a key must appear once "
                f"in the data ({len(positions)} such rows in this batch)"
            )
            raise CommandError(message)
        label = _label(model)
        self._refused(
            model, [Reject(p + 1, label, None, reason) for p in positions], numbers
        )
        doomed = set(positions)
        bulk = bulks[model]
        keep = [p not in doomed for p in range(len(bulk))]
        if isinstance(bulk, pl.DataFrame):
            bulks[model] = bulk.filter(pl.Series(keep, dtype=pl.Boolean))
        else:
            bulks[model] = [obj for obj, kept in zip(bulk, keep, strict=True) if kept]
        if numbers is not None:
            rows_of[model] = [n for n, kept in zip(numbers, keep, strict=True) if kept]

    def _set_count(self, name: str, label: str, value: int) -> None:
        """Set this part's count ``name`` of ``label``, on top of earlier parts'."""
        before = getattr(self, "_counts_before", {}).get(name, {})
        getattr(self.report, name)[label] = before.get(label, 0) + value

    def _check_reject_limit(self) -> None:
        limit: RejectLimit | None = self.options.get("max_rejects")
        if limit is None:
            return
        allowed = limit.allowed(self.report.rows_read)
        if len(self.rejects) > allowed:
            kept = (
                f" ({self._committed_batches} batches committed before it stay)"
                if self._committed_batches
                else ""
            )
            message = (
                f"{len(self.rejects)} rows were set aside, more than "
                f"--max-rejects {limit} ({allowed} of {self.report.rows_read} "
                f"rows read); the import stopped and wrote nothing{kept}. See "
                f"{self.options.get('rejects')} for the rows and reasons."
            )
            raise CommandError(message)

    def _write_rejects(self) -> None:
        path = self.options.get("rejects")
        if path:
            self.rejects.write(path)
            self.report.rejects_file = str(path)

    def _rollback_note(self) -> str:
        if self._commit_every is not None and not self.dry_run:
            return (
                "the current batch was rolled back; "
                f"{self._committed_batches} batches committed before it stay "
                "(rerun with --resume to go on)"
            )
        return super()._rollback_note()

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
            if self.processes is not None and self.processes > 1:
                return clean_in_processes(cleaning_cls, df, processes=self.processes)
            return cleaning_cls(df).df
        except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as error:
            message = f"{cleaning_cls.__name__} refused the data: {error}"
            raise CommandError(message) from error

    def source_rows(
        self, df: pl.DataFrame, *, cleaning_cls: type[CleaningDF] | None = None
    ) -> pl.DataFrame:
        """The raw rows as the cleaning sees them just before it drops any.

        Columns are renamed, cast to the cleaning class's types, nulls are
        filled and the column converters run, exactly as in
        :meth:`clean_data`; rows with missing required values, duplicates
        and the final checks are left to the real cleaning. ``CleaningDF``
        drops rows only after these steps, so a source row's key here is the
        key it had in the source, broken row or not.

        ``cleaning_cls`` defaults to :meth:`get_cleaning_df_cls`'s class.

        Examples:
            >>> command.source_rows(pl.DataFrame({"user_name": [" Ann ", None]}))
            shape: (2, ...) ... "Ann" ... null
        """
        if cleaning_cls is None:
            cleaning_cls = self.get_cleaning_df_cls()
        typed_cls = type(
            f"{cleaning_cls.__name__}SourceRows",
            (cleaning_cls,),
            {"clean": _fill_and_convert, "__module__": __name__},
        )
        try:
            return typed_cls(df).df  # type: ignore[no-any-return]
        except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as error:
            message = f"{cleaning_cls.__name__} refused the data: {error}"
            raise CommandError(message) from error

    def import_to_db(
        self, bulks: Mapping[type[Model], Iterable[Model] | pl.DataFrame]
    ) -> dict[type[Model], list[Model] | int]:
        """Create the rows in foreign-key order; return what was created per model.

        Calls :func:`~winidjango.src.db.imports.write_bulks` with
        ``--batch_size``, ``--threads`` and ``--database`` and a progress bar
        per model: objects go through ``bulk_create_bulks_in_steps`` and
        frames through ``bulk_create_from_frame``. Returns the new objects of
        a model given as objects, and the number of rows written for a model
        given as a frame. Used when the import has no keys; with keys the
        sync plan writes.

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
        # With --rejects, rows the database refuses are set aside.
        refused: dict[type[Model], list[Reject]] | None = (
            {} if self._rejecting else None
        )
        try:
            created = write_bulks(
                given,
                using=self.database,
                step=self.batch_size,
                threads=self.threads,
                progress=progress,
                check_constraints=False,
                rejects=refused,
            )
        finally:
            progress.close()
        rows_of = self._rows_of
        # Not written, but not saved before either: the report must not
        # count them as "already saved".
        self._refused_in_write = {
            model: len(found) for model, found in (refused or {}).items()
        }
        for model, found in (refused or {}).items():
            numbers = rows_of.get(model)
            if numbers is not None and len(numbers) != len(given[model]):
                numbers = None  # rows were left out (saved): positions only
            self._refused(model, found, numbers)
        return created

    # -- with keys: the sync ----------------------------------------------------

    def _sync(
        self,
        bulks: _Bulks,
        keys: Mapping[type[Model], Sequence[str]],
        source: Mapping[type[Model], pl.DataFrame],
    ) -> None:
        delete: dict[type[Model], Any] = {}
        if self.delete:
            delete = {
                model: self._delete_scope(model, bulks[model], keys[model], frame)
                for model, frame in source.items()
            }
        with self._step("plan"):
            try:
                plan = plan_sync_bulks(
                    dict(bulks),
                    keys={model: list(keys[model]) for model in bulks},
                    delete=delete if delete else False,
                    using=self.database,
                    step=self.batch_size,
                )
            except (TypeError, ValueError) as error:
                message = f"The data could not be synced: {error}"
                raise CommandError(message) from error
        plans = plan.plans
        self._show_plan(plans)
        deletions = [
            _Deletion(
                model=model,
                rows=plans[model].to_delete,
                total=self._count_in_scope(model, delete.get(model)),
                imported=len(bulks[model]),
            )
            for model in plans
            if self.delete and plans[model].to_delete
        ]
        for model, model_plan in plans.items():
            blockers = model_plan.blockers
            if self.delete and blockers:
                message = (
                    f"The {_label(model)} rows to delete cannot be deleted: "
                    f"{_blockers_text(blockers)}. Nothing was written."
                )
                raise CommandError(message)
        self._guard(deletions)
        self._record_plan(plans)
        if self.dry_run:
            return
        self._confirm_deletion(deletions)
        with self._step("write") as step:
            try:
                results = plan.apply()
                check_deferred_constraints(list(bulks), using=self.database)
            except (IntegrityError, DataError) as error:
                raise _database_refusal(error) from error
            except StalePlanError as error:
                message = (
                    f"The database changed while the import was planned: {error}. "
                    "Nothing was written; run the import again."
                )
                raise CommandError(message) from error
            step.rows = sum(r.created + r.updated for r in results.values())
        for model, result in results.items():
            label = _label(model)
            self._set_count("created", label, result.created)
            self._set_count("updated", label, result.updated)
            self._set_count("unchanged", label, result.unchanged)
        for result in results.values():
            for label, count in result.deleted_by_model.items():
                if count:
                    self.report.deleted[label] = (
                        self.report.deleted.get(label, 0) + count
                    )

    def _delete_scope(
        self,
        model: type[Model],
        bulk: _Bulk,
        key: Sequence[str],
        source: pl.DataFrame,
    ) -> Any:
        """All rows, except those the cleaning dropped from the source."""
        alias = self.database_for(model)
        try:
            not_imported = find_missing_rows(model, bulk, key=key, using=alias)
            not_in_source = set(find_missing_rows(model, source, key=key, using=alias))
        except ValueError as error:
            message = f"--delete: {error}"
            raise CommandError(message) from error
        kept = [pk for pk in not_imported if pk not in not_in_source]
        self.report.kept_broken[_label(model)] = len(kept)
        return ~Q(pk__in=kept) if kept else True

    def _count_in_scope(self, model: type[Model], scope: Any) -> int:
        rows = model._default_manager.using(self.database_for(model))
        if isinstance(scope, Q):
            return int(rows.filter(scope).count())
        return int(rows.count())

    def _show_plan(self, plans: Mapping[type[Model], SyncPlan]) -> None:
        # Shown when it decides something (a deletion) or is all there is
        # (a dry run); otherwise the report's counts say it, and -v 2 shows it.
        level = 1 if self.dry_run or self.delete else 2

        def say(text: str) -> None:
            self.say(text, level=level)

        title = "Plan (dry run: nothing will be written)" if self.dry_run else "Plan"
        say(title)
        for model, model_plan in plans.items():
            say(
                f"  {_label(model)}: create {model_plan.to_create}, update "
                f"{model_plan.to_update}, unchanged {model_plan.unchanged}, "
                f"delete {model_plan.to_delete if self.delete else 0}"
            )
            changes = {f: n for f, n in model_plan.field_changes.items() if n}
            if changes:
                say(f"    changes per field: {_counts_text(changes)}")
            for line in _sample_lines(model_plan):
                say(f"    {line}")
            if self.delete and model_plan.to_delete:
                samples = list(model_plan.delete_samples)
                if samples:
                    shown = ", ".join(map(_key_text, samples[:SAMPLE_KEYS]))
                    say(f"    to delete, e.g.: {shown}")
                cascade = dict(model_plan.cascade)
                if cascade:
                    say(
                        f"    deleting them removes (cascades included): "
                        f"{_counts_text(cascade)}"
                    )

    def _record_plan(self, plans: Mapping[type[Model], SyncPlan]) -> None:
        for model, model_plan in plans.items():
            label = _label(model)
            self._set_count("created", label, model_plan.to_create)
            self._set_count("updated", label, model_plan.to_update)
            self._set_count("unchanged", label, model_plan.unchanged)
            changes = {f: n for f, n in model_plan.field_changes.items() if n}
            if changes:
                self.report.field_changes[label] = changes
            if self.delete and model_plan.to_delete:
                self.report.to_delete[label] = model_plan.to_delete

    # -- without keys (or with the deprecated hook): create only -----------------

    def _create(
        self,
        bulks: _Bulks,
        keys: Mapping[type[Model], Sequence[str]],
        source: Mapping[type[Model], pl.DataFrame],
    ) -> None:
        given = _Bulks()
        for model, bulk in bulks.items():
            if isinstance(bulk, pl.DataFrame) and model in keys:
                try:
                    given[model] = without_saved_rows(
                        model, bulk, key=keys[model], using=self.database_for(model)
                    )
                except ValueError as error:
                    message = f"Matching the saved rows failed: {error}"
                    raise CommandError(message) from error
            else:
                given[model] = bulk
        # Counted now: the write marks the objects it creates as saved.
        saved_objects = sum(
            1
            for bulk in bulks.values()
            if not isinstance(bulk, pl.DataFrame)
            for obj in bulk
            if not obj._state.adding
        )
        stale: dict[type[Model], list[Any]] = {}
        if self.delete:
            with self._step("plan"):
                stale = self._stale_rows(source, keys)
                deletions = self._preview_deletion(bulks, keys, stale)
            self._guard(deletions)
            if not self.dry_run:
                self._confirm_deletion(deletions)
        with self._step("write", "import_to_db") as step:
            try:
                created = self.import_to_db(given)
                check_deferred_constraints(list(given), using=self.database)
                step.rows = sum(
                    done if isinstance(done, int) else len(done)
                    for done in created.values()
                )
            except (IntegrityError, DataError) as error:
                raise _database_refusal(error) from error
            except (TypeError, ValueError) as error:
                kind = type(error).__name__
                message = f"The objects could not be written: {kind}: {error}"
                raise CommandError(message) from error
        # The created dict is in dependency order, the order to report in.
        for model in dict.fromkeys([*created, *bulks]):
            label = _label(model)
            done = created.get(model, 0)
            created_here = done if isinstance(done, int) else len(done)
            refused_here = getattr(self, "_refused_in_write", {}).get(model, 0)
            self._set_count("created", label, created_here)
            self._set_count(
                "already_saved",
                label,
                len(bulks[model]) - created_here - refused_here,
            )
        if saved_objects:
            self.say(
                self.style.WARNING(
                    f"{_rows(saved_objects)} given as saved objects were left as "
                    "they are: without get_match_fields() an import only creates "
                    "rows, so a change made to a saved object is not written."
                )
            )
        if stale:
            with self._step("delete", total=sum(map(len, stale.values()))) as step:
                self.report.deleted = self._delete(stale)
                step.rows = sum(self.report.deleted.values())

    def _stale_rows(
        self,
        source: Mapping[type[Model], pl.DataFrame],
        keys: Mapping[type[Model], Sequence[str]],
    ) -> dict[type[Model], list[Any]]:
        stale = {}
        for model, frame in source.items():
            try:
                stale[model] = find_missing_rows(
                    model, frame, key=keys[model], using=self.database_for(model)
                )
            except ValueError as error:
                message = f"--delete: {error}"
                raise CommandError(message) from error
        return stale

    def _preview_deletion(
        self,
        bulks: _Bulks,
        keys: Mapping[type[Model], Sequence[str]],
        stale: Mapping[type[Model], list[Any]],
    ) -> list[_Deletion]:
        # A row can be stale itself and also cascade from a stale parent;
        # counting primary keys per model counts it once.
        doomed: dict[str, set[Any]] = {}
        deletions = []
        samples: dict[type[Model], list[tuple[Any, ...]]] = {}
        for model, pks in stale.items():
            if not pks:
                continue
            alias = self.database_for(model)
            rows = self._load(model, pks)
            try:
                preview = simulate_bulk_deletion(model, rows, using=alias)
            except (ProtectedError, RestrictedError) as error:
                reason = error.args[0]
                message = (
                    f"The stale {_label(model)} rows cannot be deleted: {reason}. "
                    "Nothing was written."
                )
                raise CommandError(message) from error
            for doomed_model, objs in preview.items():
                doomed.setdefault(_label(doomed_model), set()).update(
                    o.pk for o in objs
                )
            attnames = [
                getattr(field, "attname", field.name)
                for field in key_fields(model, keys[model])
            ]
            samples[model] = [
                tuple(getattr(row, name) for name in attnames)
                for row in rows[:SAMPLE_KEYS]
            ]
            deletions.append(
                _Deletion(
                    model=model,
                    rows=len(pks),
                    total=model._default_manager.using(alias).count(),
                    imported=len(bulks[model]),
                )
            )
        preview_counts = {label: len(pks) for label, pks in doomed.items() if pks}
        if not preview_counts:
            self.say("Nothing to delete: every row is in the imported data.")
            return []
        self.say(
            "To delete (not in the imported data; cascades included): "
            + _counts_text(preview_counts)
        )
        for model, keys_shown in samples.items():
            shown = ", ".join(map(_key_text, keys_shown))
            self.say(f"  {_label(model)}, e.g.: {shown}")
        self.report.to_delete = preview_counts
        return deletions

    def _load(self, model: type[Model], pks: Sequence[Any]) -> list[Model]:
        rows: list[Model] = []
        manager = model._default_manager.using(self.database_for(model))
        for start in range(0, len(pks), _LOAD_CHUNK):
            chunk = pks[start : start + _LOAD_CHUNK]
            rows += manager.filter(pk__in=chunk).order_by("pk")
        return rows

    def _delete(self, stale: Mapping[type[Model], list[Any]]) -> dict[str, int]:
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
                    self._load(model, stale[model]),
                    self.batch_size,
                    using=self.database_for(model),
                    threads=self.threads,
                    progress=progress,
                )
                for label, count in counts.items():
                    deleted[label] = deleted.get(label, 0) + count
        finally:
            progress.close()
        return deleted

    # -- the guard and the confirmation -----------------------------------------

    def _guard(self, deletions: Sequence[_Deletion]) -> None:
        """Refuse, before anything is written, a deletion that looks like a mistake."""
        if self.force:
            return
        limit: DeleteLimit = self._max_delete()
        reasons = []
        for deletion in deletions:
            label = _label(deletion.model)
            if deletion.imported == 0:
                reasons.append(
                    f"{label}: the import yields no {label} rows, so all "
                    f"{deletion.rows} in the database would go (an empty or "
                    "unreadable source?)"
                )
            elif not limit.allows(deletion.rows, total=deletion.total):
                share = 100 * deletion.rows / deletion.total if deletion.total else 0
                reasons.append(
                    f"{label}: {deletion.rows} of {deletion.total} rows "
                    f"({share:.1f}%) would be deleted, more than --max-delete "
                    f"{limit}"
                )
        if reasons:
            self.report.deletion_refused = True
            message = (
                "Refusing to delete: "
                + "; ".join(reasons)
                + ". Nothing was written. Check the source data; if the deletion "
                "is intended, rerun with --force (or a higher --max-delete)."
            )
            raise CommandError(message)

    def _confirm_deletion(self, deletions: Sequence[_Deletion]) -> None:
        if not deletions:
            return
        counts = {_label(d.model): d.rows for d in deletions}
        total = sum(counts.values())
        question = f"Delete {_rows(total)} ({_counts_text(counts)})?"
        if not self.confirm(question):
            self.report.deletion_skipped = True
            message = (
                "Deletion not confirmed: nothing was written (creates and updates "
                "included). Rerun with --yes to confirm."
            )
            raise CommandError(message)

    def _max_delete(self) -> DeleteLimit:
        value = self.options.get("max_delete")
        if value is None:
            return DeleteLimit(percent=10.0)
        if isinstance(value, DeleteLimit):
            return value
        try:
            return DeleteLimit.parse(str(value))
        except ArgumentTypeError as error:
            message = f"--max-delete {error}"
            raise CommandError(message) from None

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

    def _keys(self) -> tuple[dict[type[Model], list[str]], bool]:
        """The key fields per model, and whether they come from the new hook."""
        cls = type(self)
        if _overrides(cls, "get_match_fields"):
            with hook_errors("keys", "get_match_fields"):
                fields = self.get_match_fields()
            hook, syncing = "get_match_fields", True
        elif _overrides(cls, "get_delete_match_fields"):
            warnings.warn(
                f"{cls.__name__}.get_delete_match_fields() is deprecated: name the "
                "key fields in get_match_fields() to sync (create, update and "
                "delete) instead of only creating",
                DeprecationWarning,
                stacklevel=2,
            )
            with hook_errors("keys", "get_delete_match_fields"):
                fields = self.get_delete_match_fields()
            hook, syncing = "get_delete_match_fields", False
        else:
            return {}, False
        keys: dict[type[Model], list[str]] = {}
        for model, names in fields.items():
            if isinstance(names, str) or not names:
                message = (
                    f"{hook}() must give a non-empty list of field names for "
                    f"{_label(model)}, not {names!r}"
                )
                raise CommandError(message)
            try:
                key_fields(model, names)
            except ValueError as error:
                message = f"{hook}(): {error}"
                raise CommandError(message) from error
            keys[model] = list(names)
        return keys, syncing and bool(keys)

    def _check_key_models(
        self,
        bulks: _Bulks,
        keys: Mapping[type[Model], Sequence[str]],
        *,
        syncing: bool,
    ) -> None:
        hook = "get_match_fields" if syncing else "get_delete_match_fields"
        missing = [_label(m) for m in keys if m not in bulks]
        if missing and (self.delete or syncing):
            # Comparing with no imported rows would make every row stale.
            message = (
                f"{hook}() names models the import does not build: {', '.join(missing)}"
            )
            raise CommandError(message)
        keyless = [_label(m) for m in bulks if m not in keys]
        if syncing and keyless:
            message = (
                f"get_match_fields() names no key for {', '.join(keyless)}: a "
                "sync needs the key of every model the import builds"
            )
            raise CommandError(message)

    def _read(self) -> Any:
        data = self.handle_import()
        if isinstance(data, (pl.DataFrame, pl.LazyFrame)):
            return data
        if isinstance(data, Iterable) and not isinstance(data, (str, bytes, Mapping)):
            return self._frames_only(data)
        raise CommandError(self._wrong_source(data))

    def _frames_only(self, pieces: Iterable[Any]) -> Iterator[pl.DataFrame]:
        """The frames of an iterable source; anything else stops the import."""
        for piece in pieces:
            if not isinstance(piece, pl.DataFrame):
                raise CommandError(self._wrong_source(piece, item=True))
            yield piece

    def _wrong_source(self, data: object, *, item: bool = False) -> str:
        got = f"an iterable of {type(data).__name__}" if item else type(data).__name__
        return (
            f"{type(self).__name__}.handle_import() must return a polars "
            f"DataFrame, a LazyFrame or an iterable of DataFrames, not {got}"
        )

    def _build(
        self, cleaned: pl.DataFrame, keys: Mapping[type[Model], Sequence[str]]
    ) -> _Bulks:
        self.report.rows_kept += cleaned.height
        if self.processes is not None and self.processes > 1:
            given: Any = build_in_processes(
                self, cleaned, processes=self.processes, keys=keys
            )
        else:
            given = self.get_bulks_by_model(cleaned)
        return self._as_bulks(given, "get_bulks_by_model")

    def _as_bulks(self, given: Any, hook: str) -> _Bulks:
        if not isinstance(given, Mapping):
            message = (
                f"{type(self).__name__}.{hook}() must return a mapping "
                f"of model class to objects, not {type(given).__name__}"
            )
            raise CommandError(message)
        bulks = _Bulks()
        for model, objs in given.items():
            if not (isinstance(model, type) and issubclass(model, Model)):
                message = f"{hook}() returned a key that is no model: {model!r}"
                raise CommandError(message)
            bulks[model] = objs if isinstance(objs, pl.DataFrame) else list(objs)
        return bulks

    def _source_keys(
        self, raw: pl.DataFrame, keys: Mapping[type[Model], Sequence[str]]
    ) -> dict[type[Model], pl.DataFrame]:
        given = self._as_bulks(self.get_source_keys(raw), "get_source_keys")
        missing = [_label(model) for model in keys if model not in given]
        if missing:
            message = (
                f"get_source_keys() gives no rows for {', '.join(missing)}; "
                "without them --delete would take every row for stale"
            )
            raise CommandError(message)
        try:
            return {
                model: key_frame(model, given[model], key).unique()
                for model, key in keys.items()
            }
        except ValueError as error:
            message = f"--delete: {error}"
            raise CommandError(message) from error

    def _check(
        self,
        bulks: _Bulks,
        rows_of: Mapping[type[Model], list[int] | None] | None = None,
    ) -> None:
        """Check objects and frames alike before anything is written."""
        objects: dict[type[Model], list[Model]] = {}
        for model, bulk in bulks.items():
            if not isinstance(bulk, pl.DataFrame):
                objects[model] = bulk
                continue
            try:
                check_frame(model, bulk, using=self.database_for(model))
            except (TypeError, ValueError) as error:
                message = f"The {_label(model)} frame was refused: {error}"
                numbers = (rows_of or {}).get(model)
                row = getattr(error, "row", None)
                if numbers is not None and isinstance(row, int) and row >= 1:
                    # The frame's rows are the cleaned ones, in the cleaning's
                    # order; the source row is the one to look up.
                    message += (
                        f" (row {row} of the frame is row {numbers[row - 1]} "
                        "of the data handle_import() returned)"
                    )
                raise CommandError(message) from error
        check_bulks(objects)

    def database_for(self, model: type[Model]) -> str:
        """The database alias the import writes ``model``'s rows to.

        ``--database`` if given, else the router's choice for writes.

        Examples:
            >>> command.database_for(Author)  # doctest: +SKIP
            'default'
        """
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


def _overrides(cls: type[ImportDataBaseCommand], name: str) -> bool:
    """Whether a subclass of ``ImportDataBaseCommand`` defines method ``name``."""
    for klass in cls.__mro__:
        if klass is ImportDataBaseCommand:
            return False
        if name in vars(klass):
            return True
    return False


def _fill_and_convert(self: CleaningDF) -> None:
    """``CleaningDF.clean`` up to the first step that drops rows."""
    self.fill_nulls()
    self.convert_cols()


def _database_refusal(error: Exception) -> CommandError:
    # The first line says what was refused; PostgreSQL's DETAIL line says
    # which value (e.g. the key a foreign key did not find).
    lines = str(error).strip().splitlines()
    shown = " ".join(
        line.strip()
        for index, line in enumerate(lines)
        if index == 0 or line.startswith("DETAIL")
    )
    kind = type(error).__name__
    return CommandError(f"The database refused the data: {kind}: {shown}")


def _blockers_text(blockers: Any) -> str:
    if isinstance(blockers, Mapping):
        return _counts_text({str(k): int(v) for k, v in blockers.items()})
    return str(blockers)


def _sample_lines(model_plan: SyncPlan) -> list[str]:
    """Before and after values of a few rows per changed field."""
    lines = []
    for name, samples in model_plan.samples.items():
        shown = "; ".join(
            f"{_key_text(key)}: {before!r} -> {after!r}"
            for key, before, after in samples[:3]
        )
        if shown:
            lines.append(f"{name}, e.g. {shown}")
    return lines


def _key_text(key: tuple[Any, ...]) -> str:
    return repr(key[0]) if len(key) == 1 else repr(key)
