"""Run database tests once per backend: SQLite, PostgreSQL and MariaDB.

A test asks for the ``backend`` fixture to be run on every backend. It may
carry ``@pytest.mark.django_db(transaction=True)``; the database alias is
filled in here. A backend whose server is not reachable is skipped with the
reason, and when ``CI=true`` the run fails instead.
"""

import os
from collections.abc import Iterator

import pytest
from django.conf import settings

from tests import router
from tests.databases import BACKENDS, alias_for


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_report_header(config: pytest.Config) -> list[str]:
    unavailable = settings.UNAVAILABLE_BACKENDS
    used = [backend for backend in BACKENDS if backend not in unavailable]
    lines = [f"winidjango backends: {', '.join(used)}"]
    lines += [f"SKIPPING {reason}" for reason in unavailable.values()]
    return lines


def pytest_sessionstart(session: pytest.Session) -> None:
    unavailable = settings.UNAVAILABLE_BACKENDS
    if unavailable and _in_ci():
        reasons = "; ".join(unavailable.values())
        pytest.exit(f"CI=true and a backend is missing: {reasons}", returncode=1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    # @pytest.mark.backends("postgresql"): a test of one backend's feature
    # runs on that backend only, instead of being skipped on the others.
    marker = metafunc.definition.get_closest_marker("backends")
    wanted = set(marker.args) if marker else set(BACKENDS)
    params = []
    for backend in BACKENDS:
        if backend not in wanted:
            continue
        reason = settings.UNAVAILABLE_BACKENDS.get(backend)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(backend, id=backend, marks=marks))
    metafunc.parametrize("backend", params, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "backend" not in callspec.params:
            continue
        alias = alias_for(callspec.params["backend"])
        existing = item.get_closest_marker("django_db")
        kwargs = dict(existing.kwargs) if existing else {}
        kwargs["databases"] = [alias]
        item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The backend under test; routes all ORM queries to its database alias."""
    name: str = request.param
    router.active_alias = alias_for(name)
    try:
        yield name
    finally:
        router.active_alias = "default"


@pytest.fixture
def alias(backend: str) -> str:
    """The ``DATABASES`` alias of the backend under test."""
    return alias_for(backend)
