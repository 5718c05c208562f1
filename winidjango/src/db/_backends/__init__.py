"""Backend-specific SQL for the bulk write paths, one module per database.

``bulk.py`` asks :func:`get_writer` for the writer of a connection and only
talks to the small :class:`~winidjango.src.db._backends.base.BulkSqlWriter`
interface; supporting another database means adding one module here.
"""

from django.db.backends.base.base import BaseDatabaseWrapper

from winidjango.src.db._backends.base import BulkSqlWriter
from winidjango.src.db._backends.mysql import MySqlWriter
from winidjango.src.db._backends.postgresql import PostgreSqlWriter
from winidjango.src.db._backends.sqlite import SqliteWriter

_WRITERS: dict[str, type[BulkSqlWriter]] = {
    "sqlite": SqliteWriter,
    "postgresql": PostgreSqlWriter,
    "mysql": MySqlWriter,
}


def get_writer(connection: BaseDatabaseWrapper) -> BulkSqlWriter:
    """Return the SQL writer for ``connection``'s database vendor."""
    try:
        writer_class = _WRITERS[connection.vendor]
    except KeyError:
        message = (
            f"winidjango's bulk updates support {sorted(_WRITERS)}, "
            f"not {connection.vendor!r}"
        )
        raise NotImplementedError(message) from None
    return writer_class(connection)
