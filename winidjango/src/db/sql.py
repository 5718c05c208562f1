"""Raw SQL with parameter binding, returning plain Python data."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

type SqlParams = Sequence[Any] | Mapping[str, Any]


def execute_sql(
    sql: str,
    params: SqlParams | None = None,
    *,
    using: str | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Execute ``sql`` and return ``(column_names, rows)``.

    Parameters are always bound by the database driver, never interpolated into
    the SQL text, so a value like ``"x'; DROP TABLE t; --"`` stays data. Use
    ``%s`` placeholders with a sequence or ``%(name)s`` placeholders with a
    mapping, on every backend (Django translates them for SQLite).

    A statement that returns no result set (``UPDATE``, ``DELETE``, DDL) returns
    ``([], [])``. The statement runs on the connection of ``using`` (default:
    the ``default`` alias), so inside ``transaction.atomic(using=...)`` it joins
    that transaction; outside one, Django's autocommit applies.

    Examples:
        >>> columns, rows = execute_sql(
        ...     "SELECT id, username FROM auth_user WHERE is_active = %(active)s",
        ...     params={"active": True},
        ... )
        >>> columns
        ['id', 'username']
    """
    connection = connections[using or DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.description is None:
            return [], []
        column_names = [column[0] for column in cursor.description]
        rows = [tuple(row) for row in cursor.fetchall()]
    return column_names, rows
