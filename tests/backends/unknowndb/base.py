"""A backend none of Django's three wrappers is a base of.

Its wrapper derives from ``BaseDatabaseWrapper`` only and borrows the
attributes and methods of SQLite's wrapper (driver, features, operations,
schema editor) instead of inheriting them, so that it really stores rows
while looking, to anything that inspects its class, like a backend
winidjango has never heard of.
"""

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3 import base as sqlite

_BORROWED: dict[str, Any] = {
    name: value
    for name, value in vars(sqlite.DatabaseWrapper).items()
    if not name.startswith("__")
}

DatabaseWrapper = type(
    "DatabaseWrapper",
    (BaseDatabaseWrapper,),
    {
        **_BORROWED,
        "__module__": __name__,
        "vendor": "unknowndb",
        "display_name": "Unknown database (tests)",
    },
)
