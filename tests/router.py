"""Routes every query to the backend the running test is parametrized with.

Tests are written as ordinary Django code (``Author.objects.create(...)``);
the ``backend`` fixture points this router at SQLite, PostgreSQL or MariaDB,
which also exercises winidjango's ``using=`` default of
``router.db_for_write(model)``. A plain attribute, not a context variable, so
that worker threads follow the same routing as the test's thread.
"""

from typing import Any

from django.db.models import Model

active_alias = "default"


class ActiveBackendRouter:
    """Send reads and writes to ``active_alias``; allow everything else."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return active_alias

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return active_alias

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return True
