"""Django settings for winidjango's test suite."""

import sys
from pathlib import Path

from tests.databases import build_databases

# The documentation's example app is the top-level package ``library`` in
# examples/library, as an app of one's own project would be. pytest puts that
# folder on the path (pyproject's ``pythonpath``); other users of these
# settings, such as the django-stubs plugin of mypy, need it here.
_EXAMPLE_APP_DIR = str(Path(__file__).resolve().parents[1] / "examples" / "library")
if _EXAMPLE_APP_DIR not in sys.path:
    sys.path.append(_EXAMPLE_APP_DIR)

DATABASES, UNAVAILABLE_BACKENDS = build_databases()
DATABASE_ROUTERS = ["tests.router.ActiveBackendRouter"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "tests.testapp",
    "examples.flights.flights",
    "library",
]
SECRET_KEY = "winidjango-tests-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None
