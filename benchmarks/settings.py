"""Django settings for the benchmark: one database, chosen by ``--db``."""

import os
import tempfile

BENCH_DB = os.environ.get("WINIDJANGO_BENCH_DB", "sqlite")
#: The server database's name; another name keeps concurrent runs apart.
_NAME = os.environ.get("WINIDJANGO_BENCH_DB_NAME", "winidjango_bench")

_DATABASES = {
    "sqlite": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(
            tempfile.gettempdir(), f"winidjango-bench-{os.getpid()}.sqlite3"
        ),
    },
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _NAME,
        "USER": os.environ.get("WINIDJANGO_BENCH_PG_USER", "postgres"),
        "HOST": "127.0.0.1",
        "PORT": "5432",
    },
    "mariadb": {
        "ENGINE": "django.db.backends.mysql",
        "NAME": _NAME,
        "USER": "root",
        "HOST": "127.0.0.1",
        "PORT": "3306",
        # local_infile: LOAD DATA LOCAL INFILE, for frames (raw and winidjango).
        "OPTIONS": {"charset": "utf8mb4", "local_infile": True},
    },
}
DATABASES = {"default": _DATABASES[BENCH_DB]}
INSTALLED_APPS = ["benchmarks.benchapp"]
SECRET_KEY = "benchmark-not-secret"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
