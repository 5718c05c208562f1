"""Django's SQLite backend, subclassed under another vendor name."""

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    vendor = "sqlitesub"
    display_name = "SQLite subclass (tests)"
