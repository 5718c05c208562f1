"""ImportDataBaseCommand: the workflow, the report, progress, --delete, bad data.

The commands under test live in ``tests/testapp/management/commands``:
``import_users`` is written exactly like the README's ``ImportUsersCommand``,
``import_library`` (authors and books) supports ``--delete``, and
``import_tags`` reaches Tag's unique constraint.
"""

import io
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Model, Value
from django.db.models.functions import Upper

from tests.testapp.management.commands import import_catalog, import_library
from tests.testapp.management.commands.import_library import LibraryCleaningDF
from tests.testapp.management.commands.import_tags import Command as TagsCommand
from tests.testapp.management.commands.import_users import ImportUsersCommand
from tests.testapp.models import (
    Author,
    Book,
    Edition,
    EditionCopy,
    Loan,
    Place,
    Publisher,
    Restaurant,
    Review,
    Tag,
)
from winidjango.src.commands import import_data
from winidjango.src.commands._checks import check_bulks
from winidjango.src.commands._progress import ChunkProgress
from winidjango.src.commands.import_data import ImportDataBaseCommand, ImportReport
from winidjango.src.db import imports
from winidjango.src.db.bulk import bulk_create_bulks_in_steps

ROOT = Path(__file__).resolve().parents[3]

USERS_CSV = """user_name,user_born,unused
Ann,1950,x
 Bob ,,y
Ann,1951,z
,1990,w
"""


class Terminal(io.StringIO):
    """A stream that says it is a terminal (keyboard input, or a tty stderr)."""

    def isatty(self) -> bool:
        return True


class LibraryCommand(import_library.Command):
    """The library import with its source given per instance."""

    def __init__(self, source: pl.DataFrame | None = None) -> None:
        super().__init__()
        if source is not None:
            self.source = source


def library_frame(rows: list[tuple[Any, Any, Any]]) -> pl.DataFrame:
    authors, titles, pages = zip(*rows, strict=True) if rows else ((), (), ())
    return pl.DataFrame(
        {"author": list(authors), "title": list(titles), "pages": list(pages)},
        schema={"author": pl.Utf8, "title": pl.Utf8, "pages": pl.Int64},
    )


def run(
    command: ImportDataBaseCommand, alias: str, *args: str, **options: Any
) -> tuple[str, str]:
    out = options.pop("stdout", io.StringIO())
    err = options.pop("stderr", io.StringIO())
    call_command(command, *args, database=alias, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def names(model: type[Author] | type[Book] | type[Tag]) -> list[str]:
    field = "title" if model is Book else "name"
    return sorted(model.objects.values_list(field, flat=True))


@pytest.fixture
def users_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "users.csv"
    path.write_text(USERS_CSV)
    monkeypatch.setenv("WINIDJANGO_TEST_USERS_CSV", str(path))
    return path


@pytest.fixture
def stale_library() -> dict[str, Any]:
    """Rows of an earlier import: some still in the data, some not."""
    ann = Author.objects.create(name="Ann")
    old = Author.objects.create(name="Old")
    first = Book.objects.create(title="First", author=ann, pages=100)
    dropped = Book.objects.create(title="Dropped", author=ann)
    gone = Book.objects.create(title="Gone", author=old)
    Review.objects.create(book=gone, rating=3)
    return {"ann": ann, "old": old, "first": first, "dropped": dropped, "gone": gone}


# -- the spec-shaped subclass and the workflow ---------------------------------


def test_spec_shaped_subclass_imports_in_dependency_order(
    alias: str, users_csv: Path
) -> None:
    command = ImportUsersCommand()
    out, err = run(command, alias)
    authors = list(Author.objects.order_by("name").values_list("name", "birth_year"))
    assert authors == [("Ann", 1950), ("Bob", None)]
    memoirs = Book.objects.order_by("title").values_list("title", "author__name")
    assert list(memoirs) == [("Memoirs of Ann", "Ann"), ("Memoirs of Bob", "Bob")]
    assert command.report.created == {"testapp.Author": 2, "testapp.Book": 2}
    assert "created: testapp.Author 2, testapp.Book 2" in out
    assert err == ""


def test_report_counts_rows_objects_and_seconds_per_step(
    alias: str, users_csv: Path
) -> None:
    command = ImportUsersCommand()
    out, _ = run(command, alias)
    report = command.report
    assert isinstance(report, ImportReport)
    # Four rows: a duplicate name and an empty name are cleaned away.
    assert (report.rows_read, report.rows_kept, report.rows_dropped) == (4, 2, 2)
    assert list(report.seconds) == ["read", "clean", "build", "check", "write"]
    assert all(seconds >= 0 for seconds in report.seconds.values())
    assert report.deleted == {}
    assert not report.dry_run
    assert out.splitlines() == report.lines()
    assert out.startswith("Import report\n  rows read: 4, kept after cleaning: 2\n")
    assert "  seconds: read " in out


def test_verbosity_zero_prints_nothing_but_keeps_the_report(
    alias: str, users_csv: Path
) -> None:
    command = ImportUsersCommand()
    out, err = run(command, alias, verbosity=0, stderr=Terminal())
    assert (out, err) == ("", "")
    assert command.report.created["testapp.Author"] == 2


def test_verbosity_two_names_each_step(alias: str, users_csv: Path) -> None:
    out, _ = run(ImportUsersCommand(), alias, verbosity=2)
    steps = [line for line in out.splitlines() if line.startswith("step: ")]
    expected = ["read", "clean", "build", "check", "write"]
    assert steps == [f"step: {step}" for step in expected]


@pytest.mark.django_db(transaction=True)
def test_dry_run_writes_nothing_and_reports_what_it_would_have(
    alias: str, users_csv: Path
) -> None:
    command = ImportUsersCommand()
    out, _ = run(command, alias, "--dry-run")
    assert Author.objects.count() == Book.objects.count() == 0
    assert command.report.dry_run
    assert command.report.created == {"testapp.Author": 2, "testapp.Book": 2}
    assert "Import report (dry run: nothing was saved)" in out
    assert "2 rows inserted into testapp_author" in out
    assert "2 rows inserted into testapp_book" in out


def test_bulk_create_gets_batch_size_threads_database_and_progress(
    alias: str, users_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    real = bulk_create_bulks_in_steps

    def spy(bulks: Any, step: int, **kwargs: Any) -> Any:
        calls.append({"step": step, **kwargs})
        return real(bulks, step, **kwargs)

    monkeypatch.setattr(imports, "bulk_create_bulks_in_steps", spy)
    run(ImportUsersCommand(), alias, "--batch_size=1", "--threads=3")
    assert len(calls) == 1
    assert (calls[0]["step"], calls[0]["threads"], calls[0]["using"]) == (1, 3, alias)
    assert isinstance(calls[0]["progress"], ChunkProgress)
    assert Book.objects.count() == 2


def test_objects_that_are_already_saved_are_left_as_they_are(alias: str) -> None:
    first = LibraryCommand()
    run(first, alias)
    again = LibraryCommand()
    out, _ = run(again, alias)
    assert again.report.created == {"testapp.Author": 0, "testapp.Book": 0}
    assert again.report.already_saved == {"testapp.Author": 2, "testapp.Book": 3}
    assert "already saved, left as is: testapp.Author 2, testapp.Book 3" in out
    assert Book.objects.count() == 3


def test_the_objects_passed_between_steps_log_as_a_summary() -> None:
    bulks = import_data._Bulks({Author: [Author(name="A")], Book: []})
    assert str(bulks) == "<bulks testapp.Author: 1, testapp.Book: 0>"
    assert repr(import_data._Bulks()) == "<bulks empty>"


# -- progress -------------------------------------------------------------------


def test_progress_bar_per_model_and_chunk_on_a_terminal(alias: str) -> None:
    stderr = Terminal()
    run(LibraryCommand(), alias, "--batch-size=1", stderr=stderr)
    drawn = stderr.getvalue()
    full = "#" * 30
    assert "\rcreating testapp.Author [" + "#" * 15 + "-" * 15 + "] 1/2" in drawn
    assert f"\rcreating testapp.Author [{full}] 2/2\n" in drawn
    assert f"\rcreating testapp.Book [{full}] 3/3\n" in drawn
    assert drawn.count("\rcreating testapp.Book") == 3


def test_no_progress_bar_off_a_terminal_or_at_verbosity_zero(alias: str) -> None:
    _, plain = run(LibraryCommand(), alias, batch_size=1)
    _, quiet = run(
        LibraryCommand(library_frame([("Cy", "Fourth", 1)])),
        alias,
        batch_size=1,
        verbosity=0,
        stderr=Terminal(),
    )
    assert (plain, quiet) == ("", "")


# -- --delete ---------------------------------------------------------------------


def test_delete_with_yes_removes_rows_not_in_the_data(
    alias: str, stale_library: dict[str, Any]
) -> None:
    command = LibraryCommand()
    out, _ = run(command, alias, "--delete", "--yes", "--force")
    assert names(Author) == ["Ann", "Bob"]
    assert names(Book) == ["First", "Second", "Third"]
    assert Review.objects.count() == 0
    report = command.report
    assert report.created == {"testapp.Author": 1, "testapp.Book": 2}
    assert report.deleted == {
        "testapp.Author": 1,
        "testapp.Book": 2,
        "testapp.Review": 1,
    }
    assert list(report.seconds)[-1] == "delete"
    preview = next(line for line in out.splitlines() if line.startswith("To delete"))
    for part in ("testapp.Author 1", "testapp.Book 2", "testapp.Review 1"):
        assert part in preview
    assert "deleted: " in out


def test_delete_without_yes_off_a_terminal_fails_and_writes_nothing(
    alias: str, stale_library: dict[str, Any]
) -> None:
    command = LibraryCommand()
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"^Deletion not confirmed: nothing was"):
        run(command, alias, "--delete", "--force", stdin=io.StringIO("y\n"), stderr=err)
    # Nothing at all: a scheduled job fails loudly and can be rerun with --yes.
    assert names(Author) == ["Ann", "Old"]
    assert names(Book) == ["Dropped", "First", "Gone"]
    assert command.report.deletion_skipped
    assert command.report.deleted == {}
    assert "Not confirmed: Delete 3 rows" in err.getvalue()
    assert "pass --yes" in err.getvalue()


def test_delete_on_a_terminal_asks_and_yes_deletes(
    alias: str, stale_library: dict[str, Any]
) -> None:
    out, _ = run(LibraryCommand(), alias, "--delete", "--force", stdin=Terminal("y\n"))
    assert "Delete 3 rows (" in out
    assert "[y/N]" in out
    assert not Author.objects.filter(name="Old").exists()
    assert names(Author) == ["Ann", "Bob"]


def test_delete_on_a_terminal_answered_no_fails_and_writes_nothing(
    alias: str, stale_library: dict[str, Any]
) -> None:
    out = io.StringIO()
    with pytest.raises(CommandError, match="Deletion not confirmed"):
        run(
            LibraryCommand(),
            alias,
            "--delete",
            "--force",
            stdin=Terminal("n\n"),
            stdout=out,
        )
    assert "Delete 3 rows (" in out.getvalue()
    assert names(Author) == ["Ann", "Old"]
    assert names(Book) == ["Dropped", "First", "Gone"]


@pytest.mark.django_db(transaction=True)
def test_delete_in_a_dry_run_counts_but_keeps_everything(
    alias: str, stale_library: dict[str, Any]
) -> None:
    command = LibraryCommand()
    out, _ = run(command, alias, "--delete", "--yes", "--force", "--dry_run")
    assert names(Author) == ["Ann", "Old"]
    assert Book.objects.count() == 3
    assert command.report.deleted["testapp.Review"] == 1
    assert "1 row deleted from testapp_review" in out


def test_delete_with_nothing_stale_says_so(alias: str) -> None:
    run(LibraryCommand(), alias)
    command = LibraryCommand()
    out, err = run(command, alias, "--delete")
    assert "Nothing to delete: every row is in the imported data." in out
    assert not command.report.deletion_skipped
    assert err == ""


def test_delete_needs_match_fields(alias: str, users_csv: Path) -> None:
    with pytest.raises(CommandError, match=r"--delete needs ImportUsersCommand\.get"):
        run(ImportUsersCommand(), alias, "--delete", "--yes")
    assert Author.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({Author: ["nope"]}, "testapp.Author has no field 'nope'"),
        ({Author: "name"}, "non-empty list of field names for testapp.Author"),
        ({Author: []}, "non-empty list of field names"),
        ({Book: ["tags"]}, "testapp.Book.tags is not a column"),
        ({Tag: ["name"]}, "names models the import does not build: testapp.Tag"),
    ],
)
def test_delete_match_fields_are_checked(
    alias: str, fields: Mapping[type[Model], Sequence[str]], complaint: str
) -> None:
    class Misconfigured(LibraryCommand):
        def get_delete_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
            return fields

    with pytest.raises(CommandError, match=complaint):
        run(Misconfigured(), alias, "--delete", "--yes")
    assert Author.objects.count() == 0


def test_delete_refused_by_restrict_writes_nothing(
    alias: str, stale_library: dict[str, Any]
) -> None:
    Loan.objects.create(book=stale_library["gone"], borrower="Zoe")
    with pytest.raises(CommandError, match=r"testapp\.\w+ rows cannot be deleted"):
        run(LibraryCommand(), alias, "--delete", "--yes", "--force")
    # Bob, Second and Third are not written: the preview comes first.
    assert names(Author) == ["Ann", "Old"]
    assert names(Book) == ["Dropped", "First", "Gone"]


# -- bad data ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_missing_column_names_it_and_writes_nothing(alias: str) -> None:
    source = pl.DataFrame({"author": ["Ann"], "title": ["First"]})
    with pytest.raises(CommandError) as error:
        run(LibraryCommand(source), alias)
    assert "no column 'pages' (cleaned as 'pages')" in str(error.value)
    assert "Columns found: 'author', 'title'" in str(error.value)
    assert error.value.returncode == 1
    assert Author.objects.count() == 0


def test_value_of_the_wrong_type_names_column_and_row(alias: str) -> None:
    source = pl.DataFrame(
        {
            "author": ["Ann", "Bob", "Cy"],
            "title": ["A", "B", "C"],
            "pages": ["1", "lots", None],
        }
    )
    with pytest.raises(
        CommandError, match=r"^Column 'pages', row 2: 'lots' is not a valid Int64\.$"
    ):
        run(LibraryCommand(source), alias)
    assert Author.objects.count() == 0


def test_cleaning_class_refusal_becomes_a_command_error(alias: str) -> None:
    class KeepNullAuthors(LibraryCleaningDF):
        @classmethod
        def get_fill_null_map(cls) -> dict[str, Any]:
            return {**super().get_fill_null_map(), cls.AUTHOR: pl.lit(None)}

    class Command(LibraryCommand):
        def get_cleaning_df_cls(self) -> type[LibraryCleaningDF]:
            return KeepNullAuthors

    source = library_frame([(None, "Orphan", 1)])
    with pytest.raises(CommandError, match="KeepNullAuthors refused the data: Null"):
        run(Command(source), alias)


def test_too_long_value_names_model_row_and_field(alias: str) -> None:
    # SQLite would store it; the check makes every backend refuse it alike.
    long_title = "x" * 201
    source = library_frame([("Ann", "A", 1), ("Zed", long_title, 2), ("Bob", "B", 3)])
    with pytest.raises(CommandError) as error:
        run(LibraryCommand(source), alias)
    message = str(error.value)
    assert message.startswith("testapp.Book row 3: title 'xxx")
    assert message.endswith("is 201 characters long, more than 200.")
    assert Book.objects.count() == 0


def test_duplicate_in_the_data_names_both_rows(alias: str) -> None:
    command = TagsCommand()
    command.source = pl.DataFrame({"tag": ["red", "blue", "red"]})
    with pytest.raises(CommandError) as error:
        run(command, alias)
    assert str(error.value) == (
        "testapp.Tag rows 2 and 3 have the same name ('red'), which must be unique."
    )
    assert Tag.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_clash_with_an_existing_row_is_the_databases_error(alias: str) -> None:
    Tag.objects.create(name="red")
    command = TagsCommand()
    command.source = pl.DataFrame({"tag": ["blue", "green", "red"]})
    with pytest.raises(CommandError, match=r"^The database refused the data: Integ"):
        run(command, alias)
    assert names(Tag) == ["red"]


@pytest.mark.parametrize(
    ("objects", "complaint"),
    [
        ({Book: [Book(title=None, author=Author())]}, "row 1: title None is empty"),  # type: ignore[misc]
        ({Book: [Book(title="T")]}, "testapp.Book row 1: author None is empty"),
        ({Book: [Book(title="T", author=Author(), pages="many")]}, "pages 'many' is"),
        ({Author: [Author(name="A"), Book()]}, "row 2 is a Book, not a Author"),
    ],
)
def test_object_checks_name_the_row(
    objects: Mapping[type[Model], Sequence[Model]], complaint: str
) -> None:
    with pytest.raises(CommandError, match=complaint):
        check_bulks(objects)


def test_object_checks_pass_good_saved_and_database_computed_objects() -> None:
    saved = Author(name="x" * 500, pk=7)
    saved._state.adding = False  # as if loaded: it is not written again
    ann = Author(name="Ann")
    check_bulks(
        {
            Author: [ann, saved, Author(name=Upper(Value("cy")))],
            Book: [Book(title="A", author=ann), Book(title="A", author=Author())],
            # Unhashable values cannot be compared here; the database decides.
            Tag: [Tag(name="a"), Tag(name=["c"]), Tag(name=["c"])],  # type: ignore[misc]
        }
    )


def test_bulk_layer_refusal_becomes_a_command_error(alias: str) -> None:
    # A multi-table child passes for its parent in Python, not in the table.
    command = _WrongReturns(bulks={Place: [Restaurant(name="Luigi's")]})
    with pytest.raises(CommandError, match=r"^The objects could not be written: "):
        run(command, alias)
    assert Place.objects.count() == 0


def test_delete_skips_models_without_stale_rows(alias: str) -> None:
    run(LibraryCommand(), alias)
    Book.objects.create(title="Extra", author=Author.objects.get(name="Bob"))
    command = LibraryCommand()
    run(command, alias, "--delete", "--yes", "--max-delete", "1")
    assert command.report.deleted == {"testapp.Book": 1}
    assert names(Book) == ["First", "Second", "Third"]


def test_report_lines_for_an_empty_import() -> None:
    assert ImportReport().lines() == [
        "Import report",
        "  rows read: 0, kept after cleaning: 0",
        "  created: none",
        "  seconds: none",
    ]


class _WrongReturns(LibraryCommand):
    def __init__(self, frame: Any = None, bulks: Any = None) -> None:
        super().__init__()
        self.frame = frame
        self.bulks = bulks

    def handle_import(self) -> pl.DataFrame:
        return self.frame if self.frame is not None else super().handle_import()

    def get_bulks_by_model(self, df: pl.DataFrame) -> Any:
        return self.bulks if self.bulks is not None else super().get_bulks_by_model(df)


@pytest.mark.parametrize(
    ("command", "complaint"),
    [
        (_WrongReturns(frame=[{"author": "Ann"}]), "must return a polars DataFrame"),
        (_WrongReturns(bulks=[Author(name="A")]), "must return a mapping"),
        (_WrongReturns(bulks={"Author": [Author(name="A")]}), "key that is no model"),
    ],
)
def test_hooks_returning_the_wrong_thing(
    alias: str, command: ImportDataBaseCommand, complaint: str
) -> None:
    with pytest.raises(CommandError, match=complaint):
        run(command, alias)


# -- through manage.py --------------------------------------------------------------


def test_bad_file_through_manage_py_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("user_name,born\nAnn,1950\n")
    command = [sys.executable, "-m", "django", "import_users", "--skip-checks"]
    result = subprocess.run(
        [*command, "--settings", "tests.settings"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ".", "WINIDJANGO_TEST_USERS_CSV": str(path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "CommandError: The imported data has no column 'user_born'" in result.stderr


def test_check_bulks_accepts_unsaved_base_model_objects() -> None:
    from tests.testapp.models import Article
    from winidjango.src.commands._checks import check_bulks

    check_bulks({Article: [Article(title="timestamps are set on save")]})


# -- sync: keys, updates, the deletion guard ------------------------------------------


class CatalogCommand(import_catalog.Command):
    """The catalog sync, with its source (and objects or frames) per instance."""

    def __init__(self, rows: Sequence[tuple[Any, ...]], *, as_objects: bool = False):
        super().__init__()
        self.source = import_catalog.catalog_frame(rows)
        self.as_objects = as_objects


class LegacyCatalogCommand(import_catalog.CatalogImport):
    """The same import through the deprecated hook only: create and delete."""

    def __init__(self, rows: Sequence[tuple[Any, ...]], *, as_objects: bool = False):
        super().__init__()
        self.source = import_catalog.catalog_frame(rows)
        self.as_objects = as_objects

    def get_delete_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
        return {Publisher: ["code"], Edition: ["isbn"]}


def catalog_rows(count: int, *, publishers: int = 2) -> list[tuple[Any, ...]]:
    return [
        (f"P{i % publishers}", f"Publisher {i % publishers}", f"isbn{i:04}", f"T{i}", i)
        for i in range(1, count + 1)
    ]


def editions() -> dict[str, tuple[Any, ...]]:
    return {
        isbn: (publisher, title, pages)
        for isbn, publisher, title, pages in Edition.objects.values_list(
            "isbn", "publisher_id", "title", "pages"
        )
    }


def stamps() -> dict[str, Any]:
    return dict(Edition.objects.values_list("isbn", "updated_at"))


@pytest.fixture(params=[False, True], ids=["frames", "objects"])
def as_objects(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_match_fields_refuse_a_key_the_database_does_not_enforce(alias: str) -> None:
    class NotUnique(CatalogCommand):
        def get_match_fields(self) -> Mapping[type[Model], Sequence[str]]:
            return {Publisher: ["code"], Edition: ["title"]}

    with pytest.raises(CommandError, match="title"):
        run(NotUnique(catalog_rows(3)), alias)
    assert Edition.objects.count() == 0


def test_deprecated_hook_warns_and_keeps_its_meaning(alias: str) -> None:
    rows = catalog_rows(4)
    with pytest.warns(DeprecationWarning, match=r"name the key fields in get_match"):
        run(LegacyCatalogCommand(rows), alias)
    changed = [(*row[:4], 999) for row in rows]
    again = LegacyCatalogCommand(changed)
    with pytest.warns(DeprecationWarning, match="get_delete_match_fields"):
        run(again, alias)
    # Create only: the saved rows are left as they are.
    assert {pages for _, _, pages in editions().values()} == {1, 2, 3, 4}
    assert again.report.already_saved == {"testapp.Publisher": 2, "testapp.Edition": 4}


@pytest.mark.parametrize("hook", ["new", "deprecated"])
def test_rows_dropped_by_the_cleaning_are_never_deleted(alias: str, hook: str) -> None:
    command_cls = CatalogCommand if hook == "new" else LegacyCatalogCommand
    rows = catalog_rows(40)
    run(command_cls(rows), alias)
    # isbn0003 lost its title and isbn0005 its pages: broken, but in the
    # source; isbn0007 is gone from the source.
    broken = [(*row[:3], None, row[4]) if row[2] == "isbn0003" else row for row in rows]
    broken = [(*row[:4], None) if row[2] == "isbn0005" else row for row in broken]
    broken = [row for row in broken if row[2] != "isbn0007"]
    command = command_cls(broken)
    run(command, alias, "--delete", "--yes")
    assert set(editions()) == {row[2] for row in rows} - {"isbn0007"}
    assert command.report.deleted == {"testapp.Edition": 1}
    assert command.report.rows_kept == 37


@pytest.mark.parametrize("hook", ["new", "deprecated"])
def test_guard_refuses_a_mass_delete_and_writes_nothing(alias: str, hook: str) -> None:
    command_cls = CatalogCommand if hook == "new" else LegacyCatalogCommand
    run(command_cls(catalog_rows(20)), alias)
    before = editions()
    # Half the rows gone, one new row, one changed row.
    rows = [*catalog_rows(10), ("P0", "Publisher 0", "isbn9999", "New", 1)]
    rows[0] = (*rows[0][:4], 500)
    command = command_cls(rows)
    with pytest.raises(CommandError) as raised:
        run(command, alias, "--delete", "--yes")
    message = str(raised.value)
    assert "testapp.Edition: 10 of 20 rows (50.0%)" in message
    assert "more than --max-delete 10%" in message
    assert "Nothing was written" in message
    assert "--force" in message
    assert command.report.deletion_refused
    assert editions() == before

    with pytest.raises(CommandError, match=r"10 of 20 rows .* --max-delete 9\b"):
        run(command_cls(rows), alias, "--delete", "--yes", "--max-delete", "9")
    assert editions() == before
    assert not Edition.objects.filter(isbn="isbn9999").exists()


@pytest.mark.parametrize("limit", ["--force", "--max-delete=50%", "--max-delete=10"])
def test_force_or_a_higher_limit_allows_the_delete(alias: str, limit: str) -> None:
    run(CatalogCommand(catalog_rows(20)), alias)
    command = CatalogCommand(catalog_rows(10))
    run(command, alias, "--delete", "--yes", limit)
    assert sorted(editions()) == [f"isbn{i:04}" for i in range(1, 11)]
    assert command.report.deleted == {"testapp.Edition": 10}


def test_an_empty_import_never_deletes_without_force(alias: str) -> None:
    run(CatalogCommand(catalog_rows(5)), alias)
    with pytest.raises(CommandError, match=r"the import yields no testapp\.Edition"):
        run(CatalogCommand([]), alias, "--delete", "--yes", "--max-delete=100%")
    assert len(editions()) == 5
    run(CatalogCommand([]), alias, "--delete", "--yes", "--force")
    assert editions() == {}
    assert Publisher.objects.count() == 0


def test_reimport_updates_exactly_the_changed_rows(
    alias: str, as_objects: bool
) -> None:
    rows = catalog_rows(40)
    first = CatalogCommand(rows, as_objects=as_objects)
    run(first, alias)
    assert first.report.created == {"testapp.Publisher": 2, "testapp.Edition": 40}
    before, stamped = editions(), stamps()
    # 5% of the editions change: one title, one page count.
    changed = list(rows)
    changed[4] = (*rows[4][:3], "New title", rows[4][4])
    changed[9] = (*rows[9][:4], 1000)

    command = CatalogCommand(changed, as_objects=as_objects)
    out, _ = run(command, alias, verbosity=2)  # -v 2 also prints the plan

    report = command.report
    assert report.created == {"testapp.Publisher": 0, "testapp.Edition": 0}
    assert report.updated == {"testapp.Publisher": 0, "testapp.Edition": 2}
    assert report.unchanged == {"testapp.Publisher": 2, "testapp.Edition": 38}
    assert report.field_changes == {"testapp.Edition": {"title": 1, "pages": 1}}
    after = editions()
    assert after[rows[4][2]] == ("P1", "New title", 5)
    assert after[rows[9][2]] == ("P0", "T10", 1000)
    assert {k: v for k, v in after.items() if k not in {"isbn0005", "isbn0010"}} == {
        k: v for k, v in before.items() if k not in {"isbn0005", "isbn0010"}
    }
    # Unchanged rows got no UPDATE: their auto_now stamp is the old one.
    new_stamps = stamps()
    assert {k for k in stamped if new_stamps[k] != stamped[k]} == {
        "isbn0005",
        "isbn0010",
    }
    assert "updated: testapp.Publisher 0, testapp.Edition 2" in out
    assert "unchanged: testapp.Publisher 2, testapp.Edition 38" in out
    assert "changed fields of testapp.Edition: title 1, pages 1" in out
    assert "title, e.g. 'isbn0005': 'T5' -> 'New title'" in out


def test_reimport_with_delete_deletes_what_left_the_source(
    alias: str, as_objects: bool
) -> None:
    rows = catalog_rows(40)
    run(CatalogCommand(rows), alias)
    EditionCopy.objects.create(edition=Edition.objects.get(isbn="isbn0002"), shelf="A")
    gone = {"isbn0002", "isbn0003"}
    kept = [row for row in rows if row[2] not in gone]
    command = CatalogCommand([*kept, ("P9", "Publisher 9", "isbn0100", "X", 3)])
    command.as_objects = as_objects
    out, _ = run(command, alias, "--delete", "--yes")

    assert set(editions()) == {row[2] for row in kept} | {"isbn0100"}
    assert command.report.created == {"testapp.Publisher": 1, "testapp.Edition": 1}
    assert command.report.deleted == {"testapp.Edition": 2, "testapp.EditionCopy": 1}
    assert EditionCopy.objects.count() == 0
    # The preview names the rows, not only counts them.
    assert "to delete, e.g.: 'isbn0002', 'isbn0003'" in out
    assert "testapp.EditionCopy 1" in out


def test_not_confirmed_sync_fails_and_writes_nothing(alias: str) -> None:
    rows = catalog_rows(40)
    run(CatalogCommand(rows), alias)
    before, stamped = editions(), stamps()
    changed = [(*row[:4], 7) if row[2] == "isbn0001" else row for row in rows[1:]]
    changed.append(("P0", "Publisher 0", "isbn0200", "New", 1))
    err = io.StringIO()
    with pytest.raises(CommandError, match="creates and updates included"):
        run(CatalogCommand(changed), alias, "--delete", stdin=io.StringIO(), stderr=err)
    assert "Not confirmed: Delete 1 row (testapp.Edition 1)?" in err.getvalue()
    assert editions() == before
    assert stamps() == stamped


def test_dry_run_prints_the_plan_and_writes_nothing(alias: str) -> None:
    rows = catalog_rows(40)
    run(CatalogCommand(rows), alias)
    before, stamped = editions(), stamps()
    changed = [(*row[:4], 7) if row[2] == "isbn0004" else row for row in rows[1:]]
    command = CatalogCommand(changed)
    out, _ = run(command, alias, "--delete", "--dry_run")

    assert editions() == before
    assert stamps() == stamped
    assert "Plan (dry run: nothing will be written)" in out
    assert "testapp.Edition: create 0, update 1, unchanged 38, delete 1" in out
    assert "pages, e.g. 'isbn0004': 4 -> 7" in out
    assert "to delete, e.g.: 'isbn0001'" in out
    assert "would delete: testapp.Edition 1" in out
    assert "no rows written" in out
    assert command.report.updated == {"testapp.Publisher": 0, "testapp.Edition": 1}


def test_saved_objects_changed_in_the_build_are_synced(alias: str) -> None:
    run(CatalogCommand(catalog_rows(3)), alias)

    class EditSaved(CatalogCommand):
        def get_bulks_by_model(
            self, df: pl.DataFrame
        ) -> Mapping[type[Model], list[Model] | pl.DataFrame]:
            saved: list[Model] = list(Edition.objects.order_by("isbn"))
            saved[0].pages = 99  # type: ignore[attr-defined]
            return {Publisher: list(Publisher.objects.all()), Edition: saved}

    command = EditSaved(catalog_rows(3))
    run(command, alias)
    assert editions()["isbn0001"] == ("P1", "T1", 99)
    assert command.report.updated["testapp.Edition"] == 1
    assert command.report.unchanged["testapp.Edition"] == 2


def test_without_keys_saved_objects_are_reported_not_dropped_silently(
    alias: str,
) -> None:
    ann = Author.objects.create(name="Ann")

    class NoKeys(_WrongReturns):
        pass

    ann.birth_year = 1900
    command = NoKeys(bulks={Author: [ann, Author(name="Bob")]})
    out, _ = run(command, alias)
    assert "1 row given as saved objects were left as they are" in out
    assert Author.objects.get(name="Ann").birth_year is None


def test_a_change_between_plan_and_apply_fails_with_nothing_written(
    alias: str,
) -> None:
    rows = catalog_rows(40)
    run(CatalogCommand(rows), alias)

    class Meddling(CatalogCommand):
        def confirm(self, question: str) -> bool:
            # Another writer changes a row the plan updates, after planning.
            Edition.objects.filter(isbn="isbn0002").update(pages=555)
            return True

    changed = [(*row[:4], 9) if row[2] == "isbn0002" else row for row in rows[1:]]
    with pytest.raises(CommandError, match="changed while the import was planned"):
        run(Meddling(changed), alias, "--delete", "--yes")
    # The command's transaction rolled back the meddling write too; the
    # deletion of isbn0001 and the update were not made.
    assert editions()["isbn0002"] == ("P0", "T2", 2)
    assert "isbn0001" in editions()


@pytest.mark.parametrize(
    ("text", "rows", "total", "allowed"),
    [
        ("10%", 10, 100, True),
        ("10%", 11, 100, False),
        ("0", 1, 100, False),
        ("500", 500, 10, True),
        ("2.5%", 1, 40, True),
        ("2.5%", 2, 40, False),
    ],
)
def test_delete_limit_parses_rows_and_percentages(
    text: str, rows: int, total: int, allowed: bool
) -> None:
    assert import_data.DeleteLimit.parse(text).allows(rows, total=total) is allowed


@pytest.mark.parametrize("text", ["", "ten", "-1", "101%", "5 %%"])
def test_delete_limit_refuses_nonsense(alias: str, text: str) -> None:
    run(CatalogCommand(catalog_rows(3)), alias)
    with pytest.raises(CommandError, match="--max-delete must be a number of rows"):
        run(
            CatalogCommand(catalog_rows(1)), alias, "--delete", "--yes", max_delete=text
        )
    assert len(editions()) == 3
