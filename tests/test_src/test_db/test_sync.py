"""Sync (plan_sync, SyncPlan.apply, sync, plan_sync_bulks) on all three backends.

Every test asserts on what the database holds afterwards, not on what the
functions report alone.
"""

import datetime
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from django.db import IntegrityError, connections, transaction
from django.db.models import ProtectedError, Q, RestrictedError

from tests.testapp.models import (
    Author,
    SyncArticle,
    SyncChild,
    SyncCode,
    SyncHold,
    SyncItem,
    SyncNote,
    SyncParent,
    SyncPin,
    SyncReading,
    SyncSlot,
)
from winidjango.src.db.bulk import (
    SyncPlan,
    plan_sync,
    plan_sync_bulks,
    sync,
)
from winidjango.src.db.exceptions import BulkInputError, StalePlanError


def parents_table() -> list[tuple[str, str, str]]:
    return sorted(SyncParent.objects.values_list("code", "name", "tenant"))


def children_table() -> list[tuple[Any, ...]]:
    return sorted(
        SyncChild.objects.values_list("sku", "parent_id", "label", "price", "data")
    )


def readings_table() -> list[tuple[str, datetime.datetime, float | None]]:
    return sorted(SyncReading.objects.values_list("station", "taken_at", "value"))


def seed_parents(count: int, tenant: str = "a", prefix: str = "p") -> None:
    SyncParent.objects.bulk_create(
        [
            SyncParent(code=f"{prefix}{i}", name=f"name {i}", tenant=tenant)
            for i in range(count)
        ]
    )


@contextmanager
def fail_on_statement(
    alias: str, words: tuple[str, ...], number: int
) -> Iterator[None]:
    """Make the ``number``-th statement starting with one of ``words`` fail."""
    seen = 0

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        nonlocal seen
        if sql.lstrip().startswith(words):
            seen += 1
            if seen == number:
                message = f"injected failure in statement {seen}"
                raise IntegrityError(message)
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(wrapper):
        yield


# --- planning -----------------------------------------------------------------


def test_plan_counts_and_samples_exact(alias: str) -> None:
    seed_parents(6)
    data = [
        SyncParent(code="p1", name="name 1", tenant="a"),  # unchanged
        SyncParent(code="p2", name="renamed", tenant="a"),  # name
        SyncParent(code="p3", name="name 3", tenant="b"),  # tenant
        SyncParent(code="p4", name="both", tenant="b"),  # name and tenant
        SyncParent(code="p5", name="name 5", tenant="a"),  # unchanged
        SyncParent(code="n1", name="new", tenant="a"),
        SyncParent(code="n2", name="new", tenant="a"),
    ]
    before = parents_table()
    plan = plan_sync(SyncParent, data, key="code", delete=True)
    assert parents_table() == before  # planning writes nothing
    assert isinstance(plan, SyncPlan)
    assert (plan.to_create, plan.to_update, plan.unchanged, plan.to_delete) == (
        2,
        3,
        2,
        1,
    )
    assert plan.key == ("code",)
    assert plan.fields == ("name", "tenant")
    assert plan.field_changes == {"name": 2, "tenant": 2}
    assert sorted(plan.samples["name"]) == [
        (("p2",), "name 2", "renamed"),
        (("p4",), "name 4", "both"),
    ]
    assert sorted(plan.samples["tenant"]) == [(("p3",), "a", "b"), (("p4",), "a", "b")]
    assert sorted(plan.create_samples) == [("n1",), ("n2",)]
    assert plan.delete_samples == [("p0",)]
    assert plan.cascade == {"testapp.SyncParent": 1}
    assert plan.blockers == {}
    text = str(plan)
    assert "2 to create, 3 to update, 2 unchanged, 1 to delete" in text
    assert "name: 2 changed" in text
    assert "'p0'" in text


def test_apply_writes_exactly_the_plan(alias: str) -> None:
    seed_parents(6)
    data = [
        SyncParent(code=f"p{i}", name="changed" if i % 2 else f"name {i}")
        for i in range(1, 9)
    ]
    plan = plan_sync(SyncParent, data, key="code", delete=True)
    result = plan.apply()
    assert (
        (result.created, result.updated, result.unchanged, result.deleted)
        == (
            plan.to_create,
            plan.to_update,
            plan.unchanged,
            plan.to_delete,
        )
        == (3, 3, 2, 1)
    )
    assert result.deleted_by_model == {"testapp.SyncParent": 1}
    assert parents_table() == sorted((o.code, o.name, "a") for o in data)
    # The objects of existing and new rows now carry their primary keys.
    stored = dict(SyncParent.objects.values_list("code", "pk"))
    assert {o.code: o.pk for o in data} == stored
    assert all(not o._state.adding for o in data)
    with pytest.raises(RuntimeError):
        plan.apply()


def test_sync_in_one_call_without_delete_keeps_other_rows(alias: str) -> None:
    seed_parents(3)
    result = sync(
        SyncParent,
        [SyncParent(code="p1", name="one"), SyncParent(code="x", name="x")],
        key=["code"],
    )
    assert (result.created, result.updated, result.unchanged, result.deleted) == (
        1,
        1,
        0,
        0,
    )
    assert parents_table() == [
        ("p0", "name 0", "a"),
        ("p1", "one", "a"),
        ("p2", "name 2", "a"),
        ("x", "x", "a"),
    ]


def test_few_keys_in_a_big_table_are_looked_up(alias: str) -> None:
    """Data much smaller than the table: only the data's keys are read."""
    seed_parents(50)
    plan = plan_sync(
        SyncParent,
        [SyncParent(code="p7", name="seven"), SyncParent(code="zz", name="z")],
        key="code",
    )
    assert (plan.to_create, plan.to_update, plan.unchanged) == (1, 1, 0)
    plan.apply()
    assert SyncParent.objects.get(code="p7").name == "seven"
    assert SyncParent.objects.count() == 51


def test_fields_limits_what_is_compared_and_written(alias: str) -> None:
    seed_parents(2)
    data = [SyncParent(code="p0", name="new name", tenant="zzz")]
    result = sync(SyncParent, data, key="code", fields=["tenant"])
    assert result.updated == 1
    assert SyncParent.objects.get(code="p0").name == "name 0"
    assert SyncParent.objects.get(code="p0").tenant == "zzz"


def test_composite_key_unique_together(alias: str) -> None:
    seed_parents(2)
    p0, p1 = SyncParent.objects.order_by("code")
    SyncItem.objects.bulk_create(
        [SyncItem(parent=p0, number=1, qty=1), SyncItem(parent=p1, number=1, qty=1)]
    )
    data = [
        SyncItem(parent=p0, number=1, qty=5),
        SyncItem(parent=p1, number=1, qty=1),
        SyncItem(parent=p1, number=2, qty=2),
    ]
    result = sync(SyncItem, data, key=["parent", "number"])
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    assert sorted(SyncItem.objects.values_list("parent__code", "number", "qty")) == [
        ("p0", 1, 5),
        ("p1", 1, 1),
        ("p1", 2, 2),
    ]


# --- refusals -----------------------------------------------------------------


def test_duplicate_keys_refused_with_1_based_rows(alias: str) -> None:
    seed_parents(1)
    before = parents_table()
    data = [
        SyncParent(code="a", name="1"),
        SyncParent(code="b", name="2"),
        SyncParent(code="c", name="3"),
        SyncParent(code="b", name="4"),
    ]
    with pytest.raises(BulkInputError) as caught:
        sync(SyncParent, data, key="code", delete=True)
    assert caught.value.row == 2
    assert caught.value.value == "b"
    assert "'b'" in str(caught.value)
    assert "rows 2, 4" in str(caught.value)
    frame = pl.DataFrame({"code": ["x", "y", "x"], "name": ["1", "2", "3"]})
    with pytest.raises(BulkInputError, match="rows 1, 3"):
        plan_sync(SyncParent, frame, key="code")
    assert parents_table() == before


def test_key_not_enforced_unique_refused(alias: str) -> None:
    with pytest.raises(ValueError, match="not unique in the database") as caught:
        plan_sync(Author, [Author(name="Ann")], key="name")
    assert "unique_together" in str(caught.value)
    with pytest.raises(ValueError, match="not unique"):
        plan_sync(SyncItem, [], key="number")


def test_empty_key_refused(alias: str) -> None:
    with pytest.raises(BulkInputError, match="row 2"):
        plan_sync(
            SyncItem,
            [
                SyncItem(parent_id=1, number=1),
                SyncItem(parent_id=1, number=None),  # type: ignore[misc]
            ],
            key=["parent", "number"],
        )


def test_bad_arguments_refused(alias: str) -> None:
    with pytest.raises(ValueError, match="auto_now"):
        plan_sync(SyncArticle, [], key="slug", fields=["updated_at"])
    with pytest.raises(ValueError, match="part of the key"):
        plan_sync(SyncParent, [], key="code", fields=["code"])
    with pytest.raises(TypeError, match="not of SyncParent"):
        plan_sync(SyncParent, [], key="code", delete=Author.objects.all())
    with pytest.raises(TypeError):
        plan_sync(SyncParent, [Author(name="x")], key="code")


# --- staleness ----------------------------------------------------------------


def test_stale_plan_changed_row_refused_nothing_written(alias: str) -> None:
    seed_parents(4)
    plan = plan_sync(
        SyncParent,
        [
            SyncParent(code="p0", name="changed"),
            SyncParent(code="p1", name="name 1"),
            SyncParent(code="new", name="new"),
        ],
        key="code",
        delete=True,
    )
    # An unchanged row is changed behind the plan's back.
    SyncParent.objects.filter(code="p1").update(name="someone else")
    before = parents_table()
    with pytest.raises(StalePlanError) as caught:
        plan.apply()
    assert caught.value.model is SyncParent
    assert caught.value.keys == [("p1",)]
    assert parents_table() == before


def test_stale_plan_vanished_row_refused(alias: str) -> None:
    seed_parents(3)
    plan = plan_sync(SyncParent, [SyncParent(code="p0", name="x")], key="code")
    SyncParent.objects.filter(code="p0").delete()
    before = parents_table()
    with pytest.raises(StalePlanError):
        plan.apply()
    assert parents_table() == before


def test_stale_plan_row_appeared_with_created_key(alias: str) -> None:
    seed_parents(2)
    plan = plan_sync(
        SyncParent,
        [SyncParent(code="p0", name="x"), SyncParent(code="new", name="n")],
        key="code",
    )
    SyncParent.objects.create(code="new", name="by someone else")
    before = parents_table()
    with pytest.raises(StalePlanError, match="appeared") as caught:
        plan.apply()
    assert caught.value.keys == [("new",)]
    assert parents_table() == before


def _utc(hour: int) -> datetime.datetime:
    return datetime.datetime(2024, 3, 1, hour, tzinfo=datetime.UTC)


@pytest.mark.parametrize("as_frame", [False, True])
def test_stale_plan_row_appeared_with_created_composite_key(
    alias: str, as_frame: bool
) -> None:
    """The INSERT's unique index finds the row; nothing is written, no warning."""
    SyncReading.objects.create(station="a", taken_at=_utc(0), value=1.0)
    rows = [("a", _utc(0), 2.0), ("a", _utc(1), 3.0), ("b", _utc(1), 4.0)]
    data: Any = (
        pl.DataFrame(
            rows,
            schema={
                "station": pl.String(),
                "taken_at": pl.Datetime("us", "UTC"),
                "value": pl.Float64(),
            },
            orient="row",
        )
        if as_frame
        else [SyncReading(station=s, taken_at=t, value=v) for s, t, v in rows]
    )
    with warnings.catch_warnings():
        # Key reads send database values: no "naive datetime" warning.
        warnings.simplefilter("error", RuntimeWarning)
        plan = plan_sync(SyncReading, data, key=["station", "taken_at"])
        assert (plan.to_create, plan.to_update) == (2, 1)
        SyncReading.objects.create(station="b", taken_at=_utc(1), value=9.0)
        before = readings_table()
        with pytest.raises(StalePlanError, match="appeared") as caught:
            plan.apply()
    assert [key[0] for key in caught.value.keys] == ["b"]
    assert readings_table() == before
    if not as_frame:
        assert all(obj.pk is None for obj in data)


def test_composite_keys_created_and_found_without_warnings(alias: str) -> None:
    SyncReading.objects.bulk_create(
        [SyncReading(station="a", taken_at=_utc(h), value=h) for h in range(3)]
    )
    data = [SyncReading(station="a", taken_at=_utc(h), value=h + 1) for h in range(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        # Few keys in a bigger table: the keys are looked up, not the table read.
        plan = plan_sync(SyncReading, data[:1], key=["station", "taken_at"])
        assert (plan.to_create, plan.to_update) == (0, 1)
        result = sync(SyncReading, data, key=["station", "taken_at"])
    assert (result.created, result.updated) == (2, 3)
    assert readings_table() == [("a", _utc(h), h + 1.0) for h in range(5)]


@pytest.mark.backends("postgresql")
def test_stale_plan_deferred_key_constraint_looked_up_first(alias: str) -> None:
    """A deferred constraint would fail only at the commit: keys looked up first."""
    day = datetime.date(2024, 3, 1)
    plan = plan_sync(
        SyncSlot,
        [SyncSlot(code="x", day=day, label="mine")],
        key=["code", "day"],
    )
    SyncSlot.objects.create(code="x", day=day, label="theirs")
    with pytest.raises(StalePlanError, match="appeared"):
        plan.apply()
    assert list(SyncSlot.objects.values_list("code", "label")) == [("x", "theirs")]


def test_delete_leaves_rows_that_appeared_since_the_plan(alias: str) -> None:
    seed_parents(3)
    plan = plan_sync(
        SyncParent, [SyncParent(code="p0", name="name 0")], key="code", delete=True
    )
    assert plan.to_delete == 2
    SyncParent.objects.create(code="late", name="late")
    result = plan.apply()
    assert result.deleted == 2
    assert [row[0] for row in parents_table()] == ["late", "p0"]


@pytest.mark.django_db(transaction=True)
def test_stale_plan_second_connection(alias: str) -> None:
    """A change committed by another connection makes the plan stale."""
    seed_parents(2)
    plan = plan_sync(SyncParent, [SyncParent(code="p0", name="x")], key="code")
    other = connections.create_connection(alias)
    try:
        with other.cursor() as cursor:
            table = other.ops.quote_name(SyncParent._meta.db_table)
            cursor.execute(
                f"UPDATE {table} SET name = %s WHERE code = %s", ["other", "p0"]
            )
        if not other.get_autocommit():
            other.commit()
    finally:
        other.close()
    with pytest.raises(StalePlanError):
        plan.apply()
    assert SyncParent.objects.get(code="p0").name == "other"


# --- atomicity ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_failure_in_last_chunk_leaves_nothing(alias: str) -> None:
    seed_parents(6)
    before = parents_table()
    data = [SyncParent(code=f"p{i}", name="changed") for i in range(1, 6)]
    data += [SyncParent(code=f"new{i}", name="new") for i in range(5)]
    plan = plan_sync(SyncParent, data, key="code", delete=True, step=2)
    assert (plan.to_create, plan.to_update, plan.to_delete) == (5, 5, 1)
    # Creates go in chunks of 2: the third INSERT is the last chunk, after
    # the deletes and updates. PostgreSQL streams every chunk of the list
    # into one COPY, which holds the last chunk too.
    last = 1 if connections[alias].vendor == "postgresql" else 3
    with (
        fail_on_statement(alias, ("INSERT", "COPY"), last),
        pytest.raises(IntegrityError),
    ):
        plan.apply()
    assert parents_table() == before
    # The objects were not left looking saved.
    assert all(obj._state.adding for obj in data)
    assert all(obj.pk is None for obj in data)


@pytest.mark.django_db(transaction=True)
def test_apply_joins_the_callers_transaction(alias: str) -> None:
    seed_parents(2)
    before = parents_table()
    plan = plan_sync(
        SyncParent,
        [SyncParent(code="p0", name="x"), SyncParent(code="n", name="n")],
        key="code",
        delete=True,
    )
    seen = []

    def apply_then_fail() -> None:
        with transaction.atomic(using=alias):
            plan.apply()
            seen.append(SyncParent.objects.get(code="p0").name)
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        apply_then_fail()
    assert seen == ["x"]
    assert parents_table() == before


# --- auto_now -----------------------------------------------------------------


def test_unchanged_rows_untouched_auto_now_kept(alias: str) -> None:
    SyncArticle.objects.bulk_create(
        [SyncArticle(slug=f"s{i}", title=f"t{i}", words=i) for i in range(3)]
    )
    stamps = dict(SyncArticle.objects.values_list("slug", "updated_at"))
    created = dict(SyncArticle.objects.values_list("slug", "created_at"))
    data = [
        SyncArticle(slug="s0", title="t0", words=0),
        SyncArticle(slug="s1", title="t1 new", words=1),
        SyncArticle(slug="s2", title="t2", words=2),
    ]
    plan = plan_sync(SyncArticle, data, key="slug")
    assert plan.fields == ("title", "words", "ref")
    assert (plan.to_update, plan.unchanged) == (1, 2)
    plan.apply()
    after = dict(SyncArticle.objects.values_list("slug", "updated_at"))
    assert after["s0"] == stamps["s0"]
    assert after["s2"] == stamps["s2"]
    assert after["s1"] > stamps["s1"]
    assert dict(SyncArticle.objects.values_list("slug", "created_at")) == created
    # The frame path refreshes auto_now on updates too, and only there.
    frame = pl.DataFrame({"slug": ["s0", "s2"], "title": ["t0", "t2 new"]})
    result = sync(SyncArticle, frame, key="slug")
    assert (result.updated, result.unchanged) == (1, 1)
    final = dict(SyncArticle.objects.values_list("slug", "updated_at"))
    assert final["s0"] == stamps["s0"]
    assert final["s2"] > stamps["s2"]
    assert SyncArticle.objects.get(slug="s2").title == "t2 new"


# --- deletions ----------------------------------------------------------------


@pytest.mark.parametrize("scope", ["q", "queryset"])
def test_scoped_delete_stays_in_scope(alias: str, scope: str) -> None:
    seed_parents(3, tenant="a", prefix="a")
    seed_parents(3, tenant="b", prefix="b")
    limit: Any = (
        Q(tenant="a") if scope == "q" else SyncParent.objects.filter(tenant="a")
    )
    data = [SyncParent(code="a0", name="name 0", tenant="a")]
    plan = plan_sync(SyncParent, data, key="code", delete=limit)
    assert plan.to_delete == 2
    assert sorted(plan.delete_samples) == [("a1",), ("a2",)]
    result = plan.apply()
    assert result.deleted == 2
    assert [row[0] for row in parents_table()] == ["a0", "b0", "b1", "b2"]


def _family() -> None:
    """Two parents with children, notes, a pin (PROTECT) and a hold (RESTRICT)."""
    seed_parents(3)
    children = SyncChild.objects.bulk_create(
        [SyncChild(sku=f"c{i}", parent_id=f"p{i % 3}", label=f"l{i}") for i in range(6)]
    )
    SyncNote.objects.bulk_create([SyncNote(child=child) for child in children[:4]])
    SyncItem.objects.bulk_create(
        [SyncItem(parent=SyncParent.objects.get(code="p0"), number=1)]
    )
    SyncPin.objects.create(child=children[5])  # parent p2
    SyncHold.objects.create(child=children[4])  # parent p1


def test_cascade_counts_without_loading_objects(alias: str) -> None:
    _family()
    data = [SyncParent(code="p2", name="name 2")]
    plan = plan_sync(SyncParent, data, key="code", delete=True)
    # p0: children c0, c3 (notes on c0, c3), item; p1: children c1, c4 (note c1)
    assert plan.to_delete == 2
    assert plan.cascade == {
        "testapp.SyncParent": 2,
        "testapp.SyncChild": 4,
        "testapp.SyncItem": 1,
        "testapp.SyncNote": 3,
    }
    hold = SyncHold.objects.get()
    assert plan.blockers == {"testapp.SyncHold": 1}
    assert plan.blocker_samples == {"testapp.SyncHold": [hold.pk]}
    assert "blocked" in str(plan)
    before = parents_table()
    with pytest.raises(RestrictedError):
        plan.apply()
    assert parents_table() == before
    assert SyncChild.objects.count() == 6


def test_cascade_applied_matches_the_plan(alias: str) -> None:
    _family()
    SyncHold.objects.all().delete()
    plan = plan_sync(
        SyncParent, [SyncParent(code="p2", name="name 2")], key="code", delete=True
    )
    assert plan.blockers == {}
    result = plan.apply()
    assert result.deleted == 2
    assert result.deleted_by_model == plan.cascade
    assert SyncChild.objects.count() == 2
    assert SyncNote.objects.count() == 1


def test_protect_blocker(alias: str) -> None:
    _family()
    children = [
        SyncChild(sku=f"c{i}", parent_id=f"p{i % 3}", label=f"l{i}") for i in range(5)
    ]  # c5, the pinned one, is gone from the data
    SyncHold.objects.all().delete()
    plan = plan_sync(SyncChild, children, key="sku", delete=True)
    assert plan.to_delete == 1
    assert plan.blockers == {"testapp.SyncPin": 1}
    with pytest.raises(ProtectedError):
        plan.apply()
    assert SyncChild.objects.filter(sku="c5").exists()


# --- frames and value comparison ----------------------------------------------


def test_frame_values_compared_as_stored(alias: str) -> None:
    seed_parents(1)
    moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    SyncChild.objects.bulk_create(
        [
            SyncChild(
                sku="c0",
                parent_id="p0",
                label="x",
                price=Decimal("1.50"),
                data={"a": 1, "b": [1, 2]},
                moment=moment,
            ),
            SyncChild(sku="c1", parent_id="p0", label="y", price=Decimal("2.00")),
        ]
    )
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    frame = pl.DataFrame(
        {
            "sku": ["c0", "c1", "c2"],
            "parent": ["p0", "p0", "p0"],
            "label": ["x", "y", "z"],
            "price": pl.Series([Decimal("1.5"), Decimal("2.10"), None]),
            "data": pl.Series(
                [{"b": [1, 2], "a": 1}, None, {"k": "v"}], dtype=pl.Object
            ),
            "moment": pl.Series(
                [moment.astimezone(plus_two), None, None],
                dtype=pl.Datetime("us", "UTC"),
            ),
        }
    )
    plan = plan_sync(SyncChild, frame, key="sku")
    assert (plan.to_create, plan.to_update, plan.unchanged) == (1, 1, 1)
    assert plan.field_changes["price"] == 1
    assert plan.samples["price"] == [(("c1",), "2", "2.1")]
    assert plan.field_changes["data"] == 0
    result = plan.apply()
    assert (result.created, result.updated) == (1, 1)
    assert children_table() == [
        ("c0", "p0", "x", Decimal("1.50"), {"a": 1, "b": [1, 2]}),
        ("c1", "p0", "y", Decimal("2.10"), None),
        ("c2", "p0", "z", None, {"k": "v"}),
    ]
    # The same data as objects: nothing left to do.
    objects = [
        SyncChild(
            sku="c0",
            parent_id="p0",
            label="x",
            price="1.5",
            data={"b": [1, 2], "a": 1},
            moment=moment.astimezone(plus_two),
        ),
        SyncChild(sku="c1", parent_id="p0", label="y", price=Decimal("2.1")),
        SyncChild(sku="c2", parent_id="p0", label="z", data={"k": "v"}),
    ]
    again = plan_sync(SyncChild, objects, key="sku")
    assert (again.to_create, again.to_update, again.unchanged) == (0, 0, 3)


def test_frame_update_only_needs_key_and_changed_columns(alias: str) -> None:
    seed_parents(3)
    frame = pl.DataFrame({"code": ["p0", "p1"], "tenant": ["z", "a"]})
    plan = plan_sync(SyncParent, frame, key="code", delete=True)
    assert plan.fields == ("tenant",)
    assert (plan.to_update, plan.unchanged, plan.to_delete) == (1, 1, 1)
    plan.apply()
    assert parents_table() == [("p0", "name 0", "z"), ("p1", "name 1", "a")]


def test_frame_creates_checked_before_the_first_write(alias: str) -> None:
    seed_parents(1)
    SyncChild.objects.create(sku="c0", parent_id="p0", label="x")
    before = children_table()
    # Updating c0 needs no parent column; creating c1 does: refused at planning.
    frame = pl.DataFrame({"sku": ["c0", "c1"], "label": ["y", "z"]})
    with pytest.raises(ValueError, match="parent"):
        plan_sync(SyncChild, frame, key="sku")
    assert children_table() == before
    result = sync(SyncChild, frame.head(1), key="sku")
    assert result.updated == 1
    assert SyncChild.objects.get().label == "y"


# --- several models -----------------------------------------------------------


def test_several_models_natural_keys_and_parent_objects(alias: str) -> None:
    seed_parents(2)
    SyncChild.objects.bulk_create(
        [
            SyncChild(sku="c0", parent_id="p0", label="old"),
            SyncChild(sku="gone", parent_id="p1", label="gone"),
        ]
    )
    existing_parent = SyncParent(code="p0", name="renamed")
    new_parent = SyncParent(code="p9", name="nine")
    parents = [existing_parent, SyncParent(code="p1", name="name 1"), new_parent]
    # Children by the parent's natural key (to_field): a frame.
    children = pl.DataFrame(
        {"sku": ["c0", "c9"], "parent": ["p9", "p9"], "label": ["moved", "new"]}
    )
    # Items point at parent objects of the same call, existing and new.
    items = [
        SyncItem(parent=existing_parent, number=1, qty=1),
        SyncItem(parent=new_parent, number=1, qty=2),
    ]
    plan = plan_sync_bulks(
        {SyncItem: items, SyncChild: children, SyncParent: parents},
        keys={SyncParent: "code", SyncChild: "sku", SyncItem: ["parent", "number"]},
        delete={SyncChild: True},
    )
    assert next(iter(plan.plans)) is SyncParent
    assert set(plan.plans) == {SyncParent, SyncChild, SyncItem}
    assert (plan.plans[SyncParent].to_create, plan.plans[SyncParent].to_update) == (
        1,
        1,
    )
    child_plan = plan.plans[SyncChild]
    assert (child_plan.to_create, child_plan.to_update, child_plan.to_delete) == (
        1,
        1,
        1,
    )
    assert plan.plans[SyncItem].to_create == 2
    results = plan.apply()
    assert results[SyncParent].created == 1
    assert results[SyncChild].deleted == 1
    assert results[SyncItem].created == 2
    assert parents_table() == [
        ("p0", "renamed", "a"),
        ("p1", "name 1", "a"),
        ("p9", "nine", "a"),
    ]
    stored: list[Any] = sorted(
        SyncChild.objects.values_list("sku", "parent_id", "label")
    )
    assert stored == [
        ("c0", "p9", "moved"),
        ("c9", "p9", "new"),
    ]
    assert sorted(SyncItem.objects.values_list("parent__code", "number", "qty")) == [
        ("p0", 1, 1),
        ("p9", 1, 2),
    ]
    # Run again: everything unchanged.
    again = plan_sync_bulks(
        {SyncParent: parents, SyncChild: children, SyncItem: items},
        keys={SyncParent: "code", SyncChild: "sku", SyncItem: ["parent", "number"]},
    )
    assert [p.unchanged for p in again.plans.values()] == [3, 2, 2]
    assert [p.to_update + p.to_create for p in again.plans.values()] == [0, 0, 0]


def test_several_models_child_moves_to_new_parent_object(alias: str) -> None:
    seed_parents(1)
    p0 = SyncParent.objects.get()
    SyncItem.objects.create(parent=p0, number=1, qty=1)
    new_parent = SyncParent(code="p1", name="one")
    item = SyncItem(parent=new_parent, number=1, qty=1)
    # Key (parent, number): a new parent means a new key, so a create.
    plan = plan_sync_bulks(
        {SyncParent: [new_parent], SyncItem: [item]},
        keys={SyncParent: "code", SyncItem: ["parent", "number"]},
    )
    assert plan.plans[SyncItem].to_create == 1
    plan.apply()
    assert item.parent_id == new_parent.pk
    assert SyncItem.objects.filter(parent__code="p1").count() == 1


def test_unsaved_parent_outside_the_call_refused(alias: str) -> None:
    with pytest.raises(BulkInputError, match="unsaved"):
        plan_sync(
            SyncItem,
            [SyncItem(parent=SyncParent(code="x", name="x"), number=1)],
            key=["parent", "number"],
        )


# --- collation ----------------------------------------------------------------


@pytest.mark.backends("mariadb")
def test_mariadb_case_insensitive_key_matches(alias: str) -> None:
    SyncParent.objects.create(code="Abc", name="old")
    data = [SyncParent(code="abc ", name="new"), SyncParent(code="Ünï", name="u")]
    plan = plan_sync(SyncParent, data, key="code")
    assert (plan.to_create, plan.to_update) == (1, 1)
    plan.apply()
    # The database's spelling of the key stays; the row was updated.
    assert parents_table() == [("Abc", "new", "a"), ("Ünï", "u", "a")]
    with pytest.raises(BulkInputError, match="rows 1, 2"):
        plan_sync(
            SyncParent,
            [SyncParent(code="x", name="1"), SyncParent(code="X", name="2")],
            key="code",
        )
    frame = pl.DataFrame({"code": ["ABC", "unï"], "name": ["frame", "u"]})
    result = sync(SyncParent, frame, key="code")
    assert (result.updated, result.unchanged, result.created) == (1, 1, 0)
    assert parents_table() == [("Abc", "frame", "a"), ("Ünï", "u", "a")]


def test_rows_with_a_null_key_are_never_deleted(alias: str) -> None:
    SyncArticle.objects.bulk_create(
        [
            SyncArticle(slug="a", title="a", ref="r1"),
            SyncArticle(slug="b", title="b", ref=None),
            SyncArticle(slug="c", title="c", ref="r3"),
        ]
    )
    data = [SyncArticle(slug="a", title="a", ref="r1")]
    plan = plan_sync(SyncArticle, data, key="ref", fields=["title"], delete=True)
    assert (plan.unchanged, plan.to_delete) == (1, 1)
    plan.apply()
    assert sorted(SyncArticle.objects.values_list("slug", flat=True)) == ["a", "b"]


@pytest.mark.backends("mariadb")
def test_mariadb_case_insensitive_composite_key(alias: str) -> None:
    SyncCode.objects.bulk_create(
        [SyncCode(region="EU", number=1, label="a"), SyncCode(region="EU", number=2)]
    )
    data = [
        SyncCode(region="eu ", number=1, label="b"),
        SyncCode(region="EU", number=2),
        SyncCode(region="us", number=1),
    ]
    plan = plan_sync(SyncCode, data, key=["region", "number"], delete=True)
    assert (plan.to_create, plan.to_update, plan.unchanged, plan.to_delete) == (
        1,
        1,
        1,
        0,
    )
    plan.apply()
    assert sorted(SyncCode.objects.values_list("region", "number", "label")) == [
        ("EU", 1, "b"),
        ("EU", 2, ""),
        ("us", 1, ""),
    ]
    with pytest.raises(BulkInputError, match="rows 1, 2"):
        plan_sync(
            SyncCode,
            [SyncCode(region="x", number=1), SyncCode(region="X", number=1)],
            key=["region", "number"],
        )


def test_empty_data_and_empty_table(alias: str) -> None:
    plan = plan_sync(SyncParent, [], key="code", delete=True)
    assert (plan.to_create, plan.to_update, plan.unchanged, plan.to_delete) == (
        0,
        0,
        0,
        0,
    )
    assert plan.apply().created == 0
    result = sync(SyncParent, [SyncParent(code="a", name="a")], key="code")
    assert result.created == 1
    # Empty data with delete=True deletes every row in the scope: by contract.
    plan = plan_sync(
        SyncParent,
        pl.DataFrame({"code": []}, schema={"code": pl.String}),
        key="code",
        delete=True,
    )
    assert (plan.to_delete, plan.fields) == (1, ())
    plan.apply()
    assert not SyncParent.objects.exists()


def test_key_only_data_compares_nothing(alias: str) -> None:
    seed_parents(2)
    frame = pl.DataFrame({"code": ["p0", "p1", "new"]})
    plan = plan_sync(SyncParent, frame, key="code")
    assert (plan.to_create, plan.to_update, plan.unchanged) == (1, 0, 2)
    plan.apply()
    assert SyncParent.objects.get(code="new").name == ""
