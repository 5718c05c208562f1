"""Django settings for winidjango's test suite."""

from tests.databases import build_databases

DATABASES, UNAVAILABLE_BACKENDS = build_databases()
DATABASE_ROUTERS = ["tests.router.ActiveBackendRouter"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "tests.testapp",
    "examples.flights.flights",
]
SECRET_KEY = "winidjango-tests-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None
