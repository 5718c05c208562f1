"""Bad rows set aside (``rejects=[]``) on SQLite, PostgreSQL and MariaDB.

Each test loads a frame holding good rows and rows of one kind of fault, and
asserts that exactly the good rows are in the database and exactly the bad
rows are in the reject list, with their 1-based row numbers and a reason.
"""

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.db import connections, transaction

from tests.testapp.models import Author, Score
from winidjango.src.db.bulk import bulk_create_from_frame, bulk_create_in_steps
from winidjango.src.db.rejects import (
    Reject,
    RejectLimitError,
    check_reject_limit,
    write_rejects_csv,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _labels() -> list[str]:
    return sorted(Score.objects.values_list("label", flat=True))


def test_database_refusals_are_isolated(backend: str) -> None:
    ann = Author.objects.create(name="Ann")
    Score.objects.create(label="taken", points=1)
    frame = pl.DataFrame(
        {
            "label": ["a", "taken", "b", "c", "d", "e"],
            "points": [1, 2, -5, 4, 5, 6],
            "author_id": [ann.pk, None, ann.pk, ann.pk + 1000, None, ann.pk],
        }
    )
    rejects: list[Reject] = []
    written = bulk_create_from_frame(Score, frame, step=4, rejects=rejects)
    assert written == 3
    assert _labels() == ["a", "d", "e", "taken"]
    by_row = {reject.row: reject for reject in rejects}
    assert sorted(by_row) == [2, 3, 4]
    assert by_row[2].column is None  # unique clash with a saved row
    assert "IntegrityError" in by_row[2].reason
    assert "IntegrityError" in by_row[3].reason  # the check constraint
    assert by_row[4].column == "author"
    assert "points to no Author" in by_row[4].reason
    assert by_row[4].value == ann.pk + 1000
    assert {reject.model for reject in rejects} == {"testapp.Score"}


def test_every_row_bad_writes_nothing(backend: str) -> None:
    Score.objects.create(label="x", points=1)
    frame = pl.DataFrame({"label": ["x", "x"], "points": [1, 1]})
    rejects: list[Reject] = []
    # Two rows with the same label are refused by the checks (the second),
    # the first by the database (a saved row holds it).
    assert bulk_create_from_frame(Score, frame, rejects=rejects) == 0
    assert sorted(reject.row for reject in rejects) == [1, 2]
    assert _labels() == ["x"]


def test_check_refusals_are_set_aside(backend: str) -> None:
    frame = pl.DataFrame(
        {"name": ["Ann", None, "Bob", "x" * 101, None], "birth_year": [1, 2, 3, 4, 5]}
    )
    rejects: list[Reject] = []
    assert bulk_create_from_frame(Author, frame, rejects=rejects) == 2
    assert sorted(Author.objects.values_list("name", flat=True)) == ["Ann", "Bob"]
    assert [(r.row, r.column) for r in sorted(rejects, key=lambda r: r.row)] == [
        (2, "name"),
        (4, "name"),
        (5, "name"),
    ]
    reasons = {r.row: r.reason for r in rejects}
    # One rule, one reason per row (not the count over the frame).
    assert reasons[2] == reasons[5] == "null, but the field is not nullable"
    assert reasons[4].startswith("is longer than max_length=100")


def test_rejects_inside_a_rolled_back_transaction_leave_nothing(alias: str) -> None:
    frame = pl.DataFrame({"label": ["a", "b"], "points": [1, -1]})
    rejects: list[Reject] = []
    with transaction.atomic(using=alias):
        assert bulk_create_from_frame(Score, frame, rejects=rejects) == 1
        transaction.set_rollback(True, using=alias)
    assert _labels() == []
    assert [reject.row for reject in rejects] == [2]


def test_failure_after_rejects_writes_nothing(backend: str) -> None:
    frame = pl.DataFrame({"label": ["a", "b", "c"], "points": [1, -1, 3]})
    calls = []

    def fail_on_last(model: object, n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        bulk_create_from_frame(Score, frame, step=2, rejects=[], progress=fail_on_last)
    assert _labels() == []


def test_reject_limit() -> None:
    rejects = [Reject(row, "testapp.Score", None, "bad") for row in (1, 2, 3)]
    check_reject_limit(rejects, 3, 100)
    check_reject_limit(rejects, 0.03, 100)
    with pytest.raises(RejectLimitError, match="3 of 100 rows were refused"):
        check_reject_limit(rejects, 2, 100)
    with pytest.raises(RejectLimitError):
        check_reject_limit(rejects, 0.02, 100)


def test_reject_file(tmp_path: Path) -> None:
    path = tmp_path / "rejects.csv"
    rejects = [
        Reject(3, "testapp.Author", "name", "null, but the field is not nullable"),
        Reject(1, "testapp.Author", None, "IntegrityError: duplicate"),
    ]
    source: dict[int, dict[str, object]] = {
        1: {"Name": "Ann", "Year": 1970},
        3: {"Name": None, "Year": 1},
    }
    assert write_rejects_csv(path, rejects, source, ["Name", "Year"]) == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [
        "row,model,column,reason,Name,Year",
        "1,testapp.Author,,IntegrityError: duplicate,Ann,1970",
        '3,testapp.Author,name,"null, but the field is not nullable",,1',
    ]


def test_objects_database_refusals_are_isolated(backend: str) -> None:
    ann = Author.objects.create(name="Ann")
    Score.objects.create(label="taken", points=1)
    unsaved_parent = Author(name="never saved")
    objs = [
        Score(label="a", points=1, author=ann),
        Score(label="taken", points=2),
        Score(label="b", points=-5),
        Score(label="c", points=4, author_id=ann.pk + 1000),
        Score(label="d", points=5, author=unsaved_parent),
        Score(label="e", points=6),
    ]
    rejects: list[Reject] = []
    created = bulk_create_in_steps(Score, objs, step=4, rejects=rejects)
    assert [obj.label for obj in created] == ["a", "e"]
    assert all(obj.pk is not None and not obj._state.adding for obj in created)
    assert _labels() == ["a", "e", "taken"]
    assert sorted(reject.row for reject in rejects) == [2, 3, 4, 5]
    for position in (1, 2, 3, 4):
        assert objs[position]._state.adding
        assert objs[position].pk is None
    by_row = {reject.row: reject for reject in rejects}
    assert by_row[4].column == "author"
    assert "unsaved related object" in by_row[5].reason


def test_objects_failure_after_rejects_leaves_them_unsaved(backend: str) -> None:
    objs = [Score(label=f"s{i}", points=-1 if i == 1 else i) for i in range(6)]
    calls = []

    def fail_on_last(model: object, n: int) -> None:
        calls.append(n)
        if len(calls) == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        bulk_create_in_steps(Score, objs, 2, rejects=[], progress=fail_on_last)
    assert _labels() == []
    # Rolled back: no object passes for saved, so a retry creates them all.
    assert all(obj._state.adding and obj.pk is None for obj in objs)
    objs[1].points = 1
    assert len(bulk_create_in_steps(Score, objs, 2)) == 6


def test_one_bad_row_costs_a_few_statements(alias: str) -> None:
    # 1,000 rows in one chunk, one refused by the database: the halving
    # needs about 2 * log2(1000) extra attempts, not one per row.
    frame = pl.DataFrame(
        {
            "label": [f"r{i}" for i in range(1000)],
            "points": [-1 if i == 700 else i for i in range(1000)],
        }
    )
    writes: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(("INSERT", "COPY", "LOAD")):
            writes.append(sql)
        return execute(sql, params, many, context)

    rejects: list[Reject] = []
    with connections[alias].execute_wrapper(count):
        written = bulk_create_from_frame(Score, frame, step=1000, rejects=rejects)
    assert written == 999
    assert [reject.row for reject in rejects] == [701]
    assert len(writes) <= 2 * 10 + 2, len(writes)
