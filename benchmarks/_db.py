"""Database plumbing shared by the benchmark and its memory subprocesses."""

import os
import resource
import sys

import django

#: Bytes per unit of ``ru_maxrss``: kibibytes on Linux, bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


def setup_django(db: str) -> None:
    """Configure Django for ``db`` and make sure its benchmark database exists."""
    os.environ["WINIDJANGO_BENCH_DB"] = db
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    django.setup()
    _ensure_database(db)


def _ensure_database(db: str) -> None:
    """Create the benchmark database on a server backend if it is missing."""
    from django.conf import settings

    config = settings.DATABASES["default"]
    if db == "postgres":
        import psycopg

        with psycopg.connect(
            host=config["HOST"],
            port=config["PORT"],
            user=config["USER"],
            dbname="postgres",
            autocommit=True,
        ) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{config["NAME"]}"')
    elif db == "mariadb":
        import MySQLdb

        connection = MySQLdb.connect(
            host=config["HOST"], port=int(config["PORT"]), user=config["USER"]
        )
        connection.cursor().execute(
            f"CREATE DATABASE IF NOT EXISTS `{config['NAME']}` CHARACTER SET utf8mb4"
        )
        connection.close()


def _models() -> list[type]:
    """The benchmark's models, parents before the children that point to them."""
    from benchmarks.benchapp.models import Child, GrandChild, Parent, Row

    return [Row, Parent, Child, GrandChild]


def fresh_tables() -> None:
    """Drop the benchmark's tables (children first) and create them again."""
    from django.db import connection

    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in reversed(_models()):
            if model._meta.db_table in existing:
                editor.delete_model(model)
        for model in _models():
            editor.create_model(model)


def empty_tables() -> None:
    """Remove every row of every benchmark table, children first."""
    from django.db import connection

    tables = [
        connection.ops.quote_name(model._meta.db_table) for model in reversed(_models())
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
        elif connection.vendor == "postgresql":
            # One statement for all: PostgreSQL refuses to truncate a table
            # that another, not truncated with it, refers to.
            cursor.execute(f"TRUNCATE TABLE {', '.join(tables)}")
        else:
            # MariaDB refuses to truncate a referenced table, even an empty
            # one, while foreign key checks are on.
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            try:
                for table in tables:
                    cursor.execute(f"TRUNCATE TABLE {table}")
            finally:
                cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def remove_sqlite_file() -> None:
    """Delete the SQLite database file (a fresh one per process), if any."""
    from pathlib import Path

    from django.db import connection

    if connection.vendor == "sqlite":
        connection.close()
        Path(connection.settings_dict["NAME"]).unlink(missing_ok=True)


def peak_rss_mib() -> float:
    """The process's peak resident memory so far, in MiB.

    Read from ``VmHWM`` in ``/proc/self/status`` where there is one: Linux
    keeps ``ru_maxrss`` across ``exec``, so a process started by a big parent
    (the benchmark starting a memory contender) would report the parent's
    peak. ``VmHWM`` belongs to the process's own address space.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT
    return peak / 2**20


def current_rss_mib() -> float:
    """The process's resident memory now, in MiB (the peak so far if unknown)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return peak_rss_mib()
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
