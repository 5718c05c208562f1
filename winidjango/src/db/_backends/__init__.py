"""Backend-specific SQL for the bulk write paths, one module per database.

``bulk.py`` asks :func:`get_writer` for the writer of a connection and only
talks to the small :class:`~winidjango.src.db._backends.base.BulkSqlWriter`
interface; supporting another database means adding one module here.

The writer is chosen by the class of the connection's ``DatabaseWrapper``, not
by its ``vendor`` string, so that a backend built on one of Django's (a
subclass of the PostgreSQL wrapper, as django-cockroachdb or a project's own
wrapper are) gets the same writer. A backend built on none of them gets
:class:`~winidjango.src.db._backends.fallback.DjangoWriter`, which leaves the
SQL to Django.
"""

import logging

from django.db.backends.base.base import BaseDatabaseWrapper

from winidjango.src.db._backends.base import BulkSqlWriter
from winidjango.src.db._backends.fallback import DjangoWriter
from winidjango.src.db._backends.mysql import MySqlWriter
from winidjango.src.db._backends.postgresql import PostgreSqlWriter
from winidjango.src.db._backends.sqlite import SqliteWriter

logger = logging.getLogger(__name__)

# Django's wrapper classes by module, compared along the connection class's
# MRO instead of with isinstance(): importing a backend's module imports its
# driver, which a project using another database need not have installed.
_WRITERS: dict[str, type[BulkSqlWriter]] = {
    "django.db.backends.postgresql.base": PostgreSqlWriter,
    "django.db.backends.mysql.base": MySqlWriter,
    "django.db.backends.sqlite3.base": SqliteWriter,
}

# Wrapper classes already reported as unknown, so the log says it once.
_reported: set[type[BaseDatabaseWrapper]] = set()


def writer_class(connection: BaseDatabaseWrapper) -> type[BulkSqlWriter]:
    """The writer class for ``connection``: by its wrapper's nearest Django base."""
    wrapper = type(connection)
    for cls in wrapper.__mro__:
        if cls.__name__ == "DatabaseWrapper" and cls.__module__ in _WRITERS:
            return _WRITERS[cls.__module__]
    if wrapper not in _reported:
        _reported.add(wrapper)
        logger.warning(
            "winidjango has no fast bulk path for the %r backend (%s.%s); "
            "using Django's own insert, update and delete SQL instead",
            connection.vendor,
            wrapper.__module__,
            wrapper.__qualname__,
        )
    return DjangoWriter


def get_writer(connection: BaseDatabaseWrapper) -> BulkSqlWriter:
    """Return the SQL writer for ``connection``'s database backend."""
    return writer_class(connection)(connection)
