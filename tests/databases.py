"""Which real database servers the test suite can use.

SQLite always works. PostgreSQL and MariaDB are used when reachable at their
local defaults or at the URLs in ``WINIDJANGO_POSTGRES_URL`` /
``WINIDJANGO_MARIADB_URL``; otherwise their tests are skipped with the reason
(and fail when ``CI=true``).
"""

import os
import tempfile
from typing import Any
from urllib.parse import unquote, urlsplit

BACKENDS = ("sqlite", "postgresql", "mariadb")

_DEFAULT_URLS = {
    "postgresql": "postgres://postgres@127.0.0.1:5432/winidjango",
    "mariadb": "mysql://root@127.0.0.1:3306/winidjango",
}
_URL_VARIABLES = {
    "postgresql": "WINIDJANGO_POSTGRES_URL",
    "mariadb": "WINIDJANGO_MARIADB_URL",
}
_ENGINES = {
    "postgresql": "django.db.backends.postgresql",
    "mariadb": "django.db.backends.mysql",
}


def _parse_url(url: str, backend: str) -> dict[str, Any]:
    parts = urlsplit(url)
    settings: dict[str, Any] = {
        "ENGINE": _ENGINES[backend],
        "NAME": parts.path.lstrip("/") or "winidjango",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or ""),
    }
    # One test database per run, so that concurrent runs on one server
    # don't create, flush or drop each other's.
    settings["TEST"] = {
        "NAME": f"test_{settings['NAME']}_{os.getpid()}",
        "DEPENDENCIES": [],
    }
    if backend == "mariadb":
        # local_infile: frames are loaded with LOAD DATA LOCAL INFILE.
        settings["OPTIONS"] = {"charset": "utf8mb4", "local_infile": True}
        settings["TEST"] |= {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    return settings


def _unreachable_reason(backend: str, settings: dict[str, Any]) -> str | None:
    """Try a short connection; return why it failed, or None if it worked."""
    try:
        if backend == "postgresql":
            import psycopg

            psycopg.connect(
                host=settings["HOST"],
                port=settings["PORT"] or 5432,
                user=settings["USER"],
                password=settings["PASSWORD"],
                dbname="postgres",
                connect_timeout=3,
            ).close()
        else:
            try:
                import MySQLdb
            except ImportError:
                return (
                    "mariadb driver not installed: run `uv sync --group mariadb` "
                    "(needs libmariadb-dev, pkg-config and a C compiler)"
                )

            MySQLdb.connect(  # type: ignore[no-untyped-call]
                host=settings["HOST"],
                port=int(settings["PORT"] or 3306),
                user=settings["USER"],
                password=settings["PASSWORD"],
                connect_timeout=3,
            ).close()
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error) else ""
        where = f"{settings['HOST']}:{settings['PORT']}"
        return (
            f"{backend} not reachable at {where}: {type(error).__name__} {first_line}"
        )
    return None


def build_databases() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Return Django's ``DATABASES`` and ``{backend: why it is unavailable}``."""
    # One file per run, so that concurrent runs don't share (and delete) it.
    sqlite_file = os.path.join(
        tempfile.gettempdir(), f"winidjango-tests-{os.getpid()}.sqlite3"
    )
    databases: dict[str, dict[str, Any]] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": sqlite_file,
            # A file, not :memory:, so that worker threads' own connections
            # see the same database as the test's connection.
            "TEST": {"NAME": sqlite_file},
            "OPTIONS": {"timeout": 30},
        }
    }
    unavailable: dict[str, str] = {}
    for backend in ("postgresql", "mariadb"):
        url = os.environ.get(_URL_VARIABLES[backend], _DEFAULT_URLS[backend])
        settings = _parse_url(url, backend)
        reason = _unreachable_reason(backend, settings)
        if reason is None:
            databases[backend] = settings
        else:
            unavailable[backend] = reason
    databases |= _backend_test_aliases(databases)
    return databases, unavailable


def _backend_test_aliases(
    databases: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Extra aliases for the tests of backend selection (``tests/backends``).

    Each mirrors a real test database (no database of its own is created):
    the same tables, reached through another backend class.
    """
    extra: dict[str, dict[str, Any]] = {}
    default = databases["default"]
    for alias in ("sqlitesub", "unknowndb"):
        extra[alias] = {
            **default,
            "ENGINE": f"tests.backends.{alias}",
            "TEST": {"MIRROR": "default"},
        }
    if "postgresql" in databases:
        extra["pgsub"] = {
            **databases["postgresql"],
            "ENGINE": "tests.backends.pgsub",
            "TEST": {"MIRROR": "postgresql"},
        }
    return extra


def alias_for(backend: str) -> str:
    """The ``DATABASES`` alias that holds ``backend``."""
    return "default" if backend == "sqlite" else backend
