"""Settings of the flights demo.

The database is SQLite (``examples/flights/flights.sqlite3``) unless
``FLIGHTS_DATABASE_URL`` names another one:

- ``postgres://user:password@host:5432/name`` (or ``postgresql://``)
- ``mysql://user:password@host:3306/name`` (or ``mariadb://``)
- ``sqlite:///path/to/file.sqlite3``

The PostgreSQL or MariaDB database must exist; the import command creates the
tables.
"""

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

DEMO_DIR = Path(__file__).resolve().parent.parent
DATABASE_URL_VARIABLE = "FLIGHTS_DATABASE_URL"
SQLITE_FILE = DEMO_DIR / "flights.sqlite3"

_ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
    "sqlite": "django.db.backends.sqlite3",
}


def database_from_url(url: str) -> dict[str, Any]:
    """Django's settings for the database at ``url``."""
    parts = urlsplit(url)
    engine = _ENGINES.get(parts.scheme)
    if engine is None:
        known = ", ".join(sorted(_ENGINES))
        message = (
            f"{DATABASE_URL_VARIABLE}: unknown scheme {parts.scheme!r} (known: {known})"
        )
        raise ValueError(message)
    if engine.endswith("sqlite3"):
        return {"ENGINE": engine, "NAME": unquote(parts.path) or str(SQLITE_FILE)}
    settings: dict[str, Any] = {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")) or "flights",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or ""),
    }
    if engine.endswith("mysql"):
        settings["OPTIONS"] = {"charset": "utf8mb4"}
    return settings


_url = os.environ.get(DATABASE_URL_VARIABLE, "")
DATABASES = {
    "default": database_from_url(_url)
    if _url
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(SQLITE_FILE)}
}

INSTALLED_APPS = ["examples.flights.flights"]
SECRET_KEY = "flights-demo-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
