"""winidjango writes exactly what Django's bulk_create / bulk_update write.

Every test builds the same objects twice, writes one set with Django and the
other with winidjango, and compares the rows as the database holds them (a
cursor ``SELECT`` of the columns, not the ORM, so that no ``from_db_value``
hides a difference). ``Everything`` has one field of each kind, custom fields
overriding each conversion method, a custom descriptor and two kinds of
foreign key.

Time is frozen (``django.utils.timezone.now``), so ``auto_now`` and
``auto_now_add`` values are compared exactly, not as "recent".

For updates, winidjango refreshes ``auto_now`` fields as ``save()`` would,
which Django's ``bulk_update`` leaves alone; the Django side of each update
test calls those fields' ``pre_save`` first, so that both sides mean the same
write.
"""

import datetime
import decimal
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.db.models import DateTimeField, F, Model, Value
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.testapp.models import (
    Author,
    Bakery,
    CodeTarget,
    Counter,
    Everything,
    OnlyKey,
    Seeded,
    Shop,
)
from winidjango.src.db._insert import InsertPlan
from winidjango.src.db.bulk import bulk_create_in_steps, bulk_update_in_steps
from winidjango.src.db.fields import get_model_meta

FROZEN = datetime.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=datetime.UTC)


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime.datetime:
    monkeypatch.setattr(timezone, "now", lambda: FROZEN)
    return FROZEN


def _refs() -> dict[str, list[Any]]:
    return {
        "authors": Author.objects.bulk_create([Author(name=f"a{i}") for i in range(3)]),
        "targets": CodeTarget.objects.bulk_create(
            [CodeTarget(code=f"T{i}") for i in range(3)]
        ),
    }


def _value(name: str, i: int, refs: dict[str, list[Any]]) -> Any:
    """A plain value of the type the field expects, for row ``i``."""
    base = datetime.datetime(2021, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC)
    values: dict[str, Callable[[], Any]] = {
        "char": lambda: f"c{i}",
        "text": lambda: f"text {i} " * 3,
        "integer": lambda: i * 7 - 3,
        "big": lambda: 2**40 + i,
        "small": lambda: -i,
        "positive": lambda: i,
        "real": lambda: i + 0.25,
        "amount": lambda: decimal.Decimal(f"{i}.125"),
        "flag": lambda: i % 2 == 0,
        "strict_flag": lambda: True,
        "day": lambda: datetime.date(2020, 1, 1) + datetime.timedelta(days=i),
        "moment": lambda: base + datetime.timedelta(hours=i),
        "clock": lambda: datetime.time(12, i % 60, 30),
        "span": lambda: datetime.timedelta(seconds=i, microseconds=5),
        "uid": lambda: uuid.UUID(int=i + 1),
        "data": lambda: {"i": i, "list": [1, "a", None]},
        "raw": lambda: bytes([i % 256, 0, 255]),
        "email": lambda: f"u{i}@example.com",
        "slug": lambda: f"s-{i}",
        "url": lambda: f"https://example.com/{i}",
        "ip": lambda: "2001:0DB8:0000:0000:0000:0000:0000:0001",
        "upload": lambda: f"uploads/f{i}.txt",
        "strict_upload": lambda: f"uploads/g{i}.txt",
        "touched": lambda: base,
        "touched_strict": lambda: base,
        "made": lambda: base,
        "made_strict": lambda: base,
        "label": lambda: f"label {i}",
        "unknown": lambda: f"u{i}",
        "tenfold": lambda: i,
        "shouted": lambda: f"s{i}",
        "mirrored": lambda: f"m{i}",
        "described": lambda: f"d{i}",
        "author": lambda: refs["authors"][i % 3],
        "target": lambda: refs["targets"][i % 3],
    }
    return values[name]()


def _odd_value(name: str, i: int, refs: dict[str, list[Any]]) -> Any:
    """A value of another type that Django's conversion turns into the right one."""
    odd: dict[str, Callable[[], Any]] = {
        "char": lambda: i,
        "integer": lambda: str(i),
        "big": lambda: float(i),
        "real": lambda: i,
        "amount": lambda: f"{i}.5",
        "flag": lambda: 1,
        "day": lambda: f"2020-02-{i + 1:02d}",
        "uid": lambda: str(uuid.UUID(int=i + 9)),
        "raw": lambda: bytearray(b"xy"),
        "upload": lambda: f"uploads/odd{i}.txt",
    }
    if name in odd:
        return odd[name]()
    return _value(name, i, refs)


# Fields that must hold a value (None would be refused by both sides).
_NEEDS_VALUE = {"strict_flag", "label"}
_NAMES = [
    field.name
    for field in get_model_meta(Everything).concrete_fields
    if not field.primary_key
]


def _attrs(pattern: str, i: int, refs: dict[str, list[Any]]) -> dict[str, Any]:
    if pattern == "omitted":
        return {}
    attrs = {}
    for j, name in enumerate(_NAMES):
        if pattern == "odd":
            if name == "author":  # the id instead of the object
                attrs["author_id"] = refs["authors"][i % 3].pk
                continue
            attrs[name] = _odd_value(name, i, refs)
            continue
        none = {"none": True, "values": False, "mixed": (i + j) % 2 == 1}[pattern]
        attrs[name] = (
            None if none and name not in _NEEDS_VALUE else _value(name, i, refs)
        )
    return attrs


def _build(pattern: str, count: int, refs: dict[str, list[Any]]) -> list[Everything]:
    return [Everything(**_attrs(pattern, i, refs)) for i in range(count)]


def _normal(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        # PostgreSQL's driver reads timestamptz as aware, the others naive UTC.
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def _raw_rows(alias: str, model: type[Model], order: str = "") -> list[tuple[Any, ...]]:
    """The stored rows of ``model`` (primary key left out), in key order."""
    meta = get_model_meta(model)
    connection = connections[alias]
    quote = connection.ops.quote_name
    assert meta.pk is not None
    columns = [f.column for f in meta.local_concrete_fields if not f.primary_key]
    key = quote(str(meta.pk.column))
    selected = ", ".join(quote(str(column)) for column in columns) or key
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {selected} FROM {quote(meta.db_table)} ORDER BY {order or key}"
        )
        return [tuple(map(_normal, row)) for row in cursor.fetchall()]


PATTERNS = ["values", "none", "mixed", "odd", "omitted"]


@pytest.mark.parametrize(
    ("pattern", "threads"), [(pattern, 1) for pattern in PATTERNS] + [("mixed", 3)]
)
def test_create_writes_what_django_writes(
    alias: str, frozen_now: datetime.datetime, pattern: str, threads: int
) -> None:
    refs = _refs()
    Everything.objects.bulk_create(_build(pattern, 7, refs))
    expected = _raw_rows(alias, Everything)
    Everything.objects.all().delete()
    ours = _build(pattern, 7, refs)
    # The column-wise path, not Django's compiler, is under test here.
    assert InsertPlan(Everything, connections[alias], alias, 3).fast
    # threads=3: helper threads convert chunks while this one writes.
    created = bulk_create_in_steps(Everything, ours, step=3, threads=threads)
    _assert_same_rows(expected, _raw_rows(alias, Everything))
    assert all(obj.pk is not None for obj in created)
    # pre_save set the times on the objects, as Django's does.
    assert {(obj.touched, obj.made_strict) for obj in ours} == {(FROZEN, FROZEN)}


def test_none_reaches_django_where_it_changes_the_value(
    alias: str, frozen_now: datetime.datetime
) -> None:
    # The cases the issue named: each stores something other than NULL.
    refs = _refs()
    del refs
    bulk_create_in_steps(Everything, [Everything(**_none_row())], step=10)
    row = Everything.objects.values(
        "upload", "touched", "made", "unknown", "tenfold", "shouted", "described"
    ).get()
    assert row == {
        "upload": "",
        "touched": FROZEN,
        "made": FROZEN,
        "unknown": "unknown",
        "tenfold": -1,
        "shouted": "SILENCE",
        "described": "blank",
    }


def _none_row() -> dict[str, Any]:
    return {name: None for name in _NAMES if name not in _NEEDS_VALUE} | {
        "strict_flag": False,
        "label": "x",
    }


@pytest.mark.parametrize(
    ("before", "after"),
    [("values", pattern) for pattern in PATTERNS[:4]] + [("none", "values")],
)
def test_update_writes_what_django_writes(
    alias: str, frozen_now: datetime.datetime, before: str, after: str
) -> None:
    refs = _refs()
    auto_now = [
        field
        for field in get_model_meta(Everything).concrete_fields
        if getattr(field, "auto_now", False)
    ]
    names = list(_NAMES)
    results = []
    for writer in ("django", "winidjango"):
        objs = _create_at_another_time(
            lambda: Everything.objects.bulk_create(_build(before, 6, refs))
        )
        for i, obj in enumerate(objs):
            for name, value in _attrs(after, i + 10, refs).items():
                # made_strict is NOT NULL and no pre_save runs for it on
                # update: None would be refused by the database.
                if (value, name) != (None, "made_strict"):
                    setattr(obj, name, value)
        if writer == "django":
            for obj in objs:
                for field in auto_now:
                    field.pre_save(obj, False)
            Everything.objects.bulk_update(objs, names)
        else:
            assert bulk_update_in_steps(Everything, objs, names, step=4) == 6
        results.append(_raw_rows(alias, Everything))
        Everything.objects.all().delete()
    _assert_same_rows(results[0], results[1])


def _assert_same_rows(
    expected: list[tuple[Any, ...]], actual: list[tuple[Any, ...]]
) -> None:
    """Equal rows; on failure, name the first differing row and column."""
    assert len(expected) == len(actual)
    for number, (want, got) in enumerate(zip(expected, actual, strict=True), 1):
        diff = {
            _NAMES[i]: (w, g)
            for i, (w, g) in enumerate(zip(want, got, strict=True))
            if w != g
        }
        assert not diff, f"row {number}: {diff}"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    masks=st.lists(
        st.lists(st.sampled_from(["none", "value", "odd"]), min_size=len(_NAMES)),
        min_size=1,
        max_size=6,
    )
)
def test_any_mix_of_none_and_values_is_written_as_django_writes(
    alias: str, frozen_now: datetime.datetime, masks: list[list[str]]
) -> None:
    refs = _refs()

    def build() -> list[Everything]:
        objs = []
        for i, mask in enumerate(masks):
            attrs: dict[str, Any] = {}
            for name, kind in zip(_NAMES, mask, strict=False):
                if kind == "none" and name not in _NEEDS_VALUE:
                    attrs[name] = None
                elif kind == "odd":
                    attrs[name] = _odd_value(name, i, refs)
                else:
                    attrs[name] = _value(name, i, refs)
            objs.append(Everything(**attrs))
        return objs

    try:
        Everything.objects.bulk_create(build())
        expected = _raw_rows(alias, Everything)
        Everything.objects.all().delete()
        bulk_create_in_steps(Everything, build(), step=2)
        _assert_same_rows(expected, _raw_rows(alias, Everything))
    finally:
        Everything.objects.all().delete()
        Author.objects.all().delete()
        CodeTarget.objects.all().delete()


@pytest.mark.parametrize(
    "attrs",
    [{}, {"name": None}, {"seeded": None}, {"seeded": 3, "seeded_strict": 4}],
    ids=["omitted", "name_none", "seeded_none", "values"],
)
def test_db_default_as_django(alias: str, attrs: dict[str, Any]) -> None:
    Seeded.objects.bulk_create([Seeded(**attrs) for _ in range(3)])
    expected = _raw_rows(alias, Seeded)
    Seeded.objects.all().delete()
    created = bulk_create_in_steps(Seeded, [Seeded(**attrs) for _ in range(3)], step=2)
    assert _raw_rows(alias, Seeded) == expected
    assert all(obj.pk is not None for obj in created)


# --- update: expressions and multi-table parents ------------------------------

_EXPRESSIONS: list[Callable[[Counter], Any]] = [
    lambda obj: F("n") + 1,
    lambda obj: Lower("name"),
    lambda obj: Upper(Value("fixed")),
    lambda obj: Value(None),
]


@pytest.mark.parametrize("expression", range(len(_EXPRESSIONS)))
def test_update_expressions_as_django(alias: str, expression: int) -> None:
    make = _EXPRESSIONS[expression]
    field = "name" if expression in {1, 2} else "n"
    results = []
    for writer in ("django", "winidjango"):
        objs = Counter.objects.bulk_create(
            [Counter(name=f"Name{i}", n=i) for i in range(7)]
        )
        # An expression in the middle chunk only; the others take the fast path.
        objs[3].__dict__[field] = make(objs[3])
        objs[4].__dict__[field] = make(objs[4])
        for obj in objs[:3]:
            setattr(obj, "n" if field == "n" else "name", 100 if field == "n" else "x")
        if writer == "django":
            assert Counter.objects.bulk_update(objs, [field]) == 7
        else:
            assert bulk_update_in_steps(Counter, objs, [field], step=3) == 7
        results.append(_raw_rows(alias, Counter))
        Counter.objects.all().delete()
    assert results[0] == results[1]


@pytest.mark.parametrize(
    "fields", [["name"], ["visits", "loaves"], ["name", "visits", "loaves"]]
)
def test_update_parent_table_fields_as_django(
    alias: str, frozen_now: datetime.datetime, fields: list[str]
) -> None:
    results = []
    touches_shop = bool({"name", "visits"} & set(fields))
    for writer in ("django", "winidjango"):
        _create_at_another_time(
            lambda: [
                Bakery.objects.create(name=f"b{i}", visits=i, loaves=i)
                for i in range(5)
            ]
        )
        objs = list(Bakery.objects.order_by("pk"))
        for obj in objs:
            obj.name = obj.name.upper()
            obj.visits += 10
            obj.loaves += 100
        if writer == "django":
            changed_field = Shop._meta.get_field("changed")
            assert isinstance(changed_field, DateTimeField)
            for obj in objs:
                changed_field.pre_save(obj, False)
            names = [*fields, "changed"] if touches_shop else fields
            counted = Bakery.objects.bulk_update(objs, names)
        else:
            counted = bulk_update_in_steps(Bakery, objs, fields, step=2)
        assert counted == 5
        results.append((_raw_rows(alias, Shop), _raw_rows(alias, Bakery)))
        Bakery.objects.all().delete()
        Shop.objects.all().delete()
    assert results[0] == results[1]
    # The parent's auto_now field is refreshed when its table is written.
    changed = {row[-1] for row in results[1][0]}
    assert changed == ({FROZEN.replace(tzinfo=None)} if touches_shop else {_EARLIER})


_EARLIER = datetime.datetime(2020, 1, 1)


def _create_at_another_time[T](create: Callable[[], T]) -> T:
    """Run ``create`` with the clock at 2020-01-01, so that a refresh shows."""
    frozen = timezone.now
    timezone.now = lambda: _EARLIER.replace(tzinfo=datetime.UTC)
    try:
        return create()
    finally:
        timezone.now = frozen


@pytest.mark.parametrize("step", [3, 10], ids=["across_chunks", "one_chunk"])
def test_same_row_twice_first_copy_wins_as_in_django(alias: str, step: int) -> None:
    results = []
    for writer in ("django", "winidjango"):
        objs = Counter.objects.bulk_create(
            [Counter(name=f"c{i}", n=i) for i in range(4)]
        )
        first = Counter.objects.get(pk=objs[1].pk)
        first.n = 111
        later = Counter.objects.get(pk=objs[1].pk)
        later.n = 222
        same_chunk = Counter.objects.get(pk=objs[2].pk)
        same_chunk.n = 333
        bulk = [objs[0], first, objs[2], objs[3], later, same_chunk]
        objs[2].n = 30
        if writer == "django":
            Counter.objects.bulk_update(bulk, ["n"])
        else:
            # step=3: ``later`` repeats a row of the first chunk.
            bulk_update_in_steps(Counter, bulk, ["n"], step=step)
        results.append(_raw_rows(alias, Counter))
        Counter.objects.all().delete()
    assert results[0] == results[1]
    assert [row[1] for row in results[1]] == [0, 111, 30, 3]


# --- a model with only its key -------------------------------------------------


def test_model_with_only_an_automatic_key(alias: str) -> None:
    created = bulk_create_in_steps(OnlyKey, [OnlyKey() for _ in range(5)], step=2)
    keys = [obj.pk for obj in created]
    assert None not in keys
    assert len(set(keys)) == 5
    assert sorted(keys) == sorted(OnlyKey.objects.values_list("pk", flat=True))
    assert bulk_create_in_steps(OnlyKey, [OnlyKey()], return_objects=False) == 1
    assert OnlyKey.objects.count() == 6


def test_update_expressions_in_parent_and_child_tables_as_django(
    alias: str, frozen_now: datetime.datetime
) -> None:
    results = []
    for writer in ("django", "winidjango"):
        _create_at_another_time(
            lambda: [
                Bakery.objects.create(name=f"b{i}", visits=i, loaves=i)
                for i in range(4)
            ]
        )
        objs = list(Bakery.objects.order_by("pk"))
        objs[1].visits = F("visits") + 5
        objs[2].loaves = F("loaves") * 2
        objs[3].visits = 99
        if writer == "django":
            changed_field = Shop._meta.get_field("changed")
            assert isinstance(changed_field, DateTimeField)
            for obj in objs:
                changed_field.pre_save(obj, False)
            counted = Bakery.objects.bulk_update(objs, ["visits", "loaves", "changed"])
        else:
            counted = bulk_update_in_steps(Bakery, objs, ["visits", "loaves"], step=2)
        assert counted == 4
        results.append((_raw_rows(alias, Shop), _raw_rows(alias, Bakery)))
        Bakery.objects.all().delete()
        Shop.objects.all().delete()
    assert results[0] == results[1]
    assert [row[1] for row in results[1][0]] == [0, 6, 2, 99]
    assert [row[0] for row in results[1][1]] == [0, 1, 4, 3]
