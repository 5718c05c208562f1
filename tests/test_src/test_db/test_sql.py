import pytest

from tests.testapp.models import Author
from winidjango.src.db.sql import execute_sql


def test_select_returns_columns_and_tuples(alias: str) -> None:
    Author.objects.create(name="Ann", birth_year=1950)
    Author.objects.create(name="Bob", birth_year=None)
    columns, rows = execute_sql(
        "SELECT name, birth_year FROM testapp_author ORDER BY name", using=alias
    )
    assert columns == ["name", "birth_year"]
    assert rows == [("Ann", 1950), ("Bob", None)]
    assert all(type(row) is tuple for row in rows)


def test_named_and_positional_parameters(alias: str) -> None:
    Author.objects.create(name="Ann", birth_year=1950)
    Author.objects.create(name="Bob", birth_year=1960)
    named = execute_sql(
        "SELECT name FROM testapp_author WHERE birth_year > %(year)s",
        {"year": 1955},
        using=alias,
    )
    positional = execute_sql(
        "SELECT name FROM testapp_author WHERE birth_year > %s", [1955], using=alias
    )
    assert named == positional == (["name"], [("Bob",)])


def test_statement_without_result_set_returns_empty(alias: str) -> None:
    Author.objects.create(name="Ann")
    result = execute_sql(
        "UPDATE testapp_author SET birth_year = %s", [2000], using=alias
    )
    assert result == ([], [])
    assert Author.objects.get().birth_year == 2000


def test_injection_attempt_stays_data(alias: str) -> None:
    attack = "x'; DELETE FROM testapp_author; --"
    Author.objects.create(name="Ann")
    execute_sql(
        "INSERT INTO testapp_author (name) VALUES (%(name)s)",
        {"name": attack},
        using=alias,
    )
    _, rows = execute_sql(
        "SELECT name FROM testapp_author WHERE name = %s", [attack], using=alias
    )
    assert rows == [(attack,)]
    assert Author.objects.count() == 2


@pytest.mark.django_db
def test_default_alias_is_default_database() -> None:
    assert execute_sql("SELECT 1 AS one") == (["one"], [(1,)])


@pytest.mark.django_db(transaction=True)
def test_joins_callers_transaction(alias: str) -> None:
    from django.db import transaction

    class BoomError(Exception):
        pass

    def write_then_fail() -> None:
        with transaction.atomic(using=alias):
            sql = "INSERT INTO testapp_author (name) VALUES (%s)"
            execute_sql(sql, ["Ann"], using=alias)
            raise BoomError

    with pytest.raises(BoomError):
        write_then_fail()
    assert not Author.objects.exists()
