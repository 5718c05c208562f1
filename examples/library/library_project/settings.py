"""Settings of the documentation's example project (one SQLite file).

Create its tables with ``uv run examples/library/manage.py migrate
--run-syncdb`` (the example app has no migrations: its models change with the
docs).
"""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "library",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": PROJECT_DIR / "library.sqlite3",
    }
}
SECRET_KEY = "winidjango-docs-example-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
