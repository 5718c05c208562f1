"""Django's PostgreSQL backend, subclassed under another vendor name."""

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    vendor = "pgsub"
    display_name = "PostgreSQL subclass (tests)"
