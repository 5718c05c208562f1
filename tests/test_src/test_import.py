import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json
import sys

import winidjango

import django.apps
import django.conf

print(json.dumps({
    "configured": django.conf.settings.configured,
    "apps_ready": django.apps.apps.ready,
    "db_drivers": sorted(
        name for name in ("psycopg", "MySQLdb", "sqlite3") if name in sys.modules
    ),
    "version": winidjango.__version__,
}))
"""


def test_import_winidjango_neither_configures_django_nor_touches_a_database() -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "DJANGO_SETTINGS_MODULE"
    }
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["configured"] is False
    assert result["apps_ready"] is False
    assert result["db_drivers"] == []
    assert isinstance(result["version"], str)
