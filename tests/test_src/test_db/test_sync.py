"""Sync (plan_sync, SyncPlan.apply, sync, plan_sync_bulks) on all three backends.

Every test asserts on what the database holds afterwards.
"""

import pytest

from tests.testapp.models import SyncParent
from winidjango.src.db.bulk import plan_sync, sync


@pytest.mark.django_db(transaction=True)
def test_smoke(backend: str) -> None:
    SyncParent.objects.bulk_create(
        [SyncParent(code=f"p{i}", name=f"n{i}") for i in range(5)]
    )
    data = [
        SyncParent(code=f"p{i}", name=f"n{i}" if i % 2 else "X") for i in range(1, 7)
    ]
    plan = plan_sync(SyncParent, data, key="code", delete=True)
    print(plan)
    assert (plan.to_create, plan.to_update, plan.unchanged, plan.to_delete) == (
        2,
        2,
        2,
        1,
    )
    result = plan.apply()
    print(result)
    assert sorted(SyncParent.objects.values_list("code", "name")) == sorted(
        (o.code, o.name) for o in data
    )
    import polars as pl

    df = pl.DataFrame({"code": ["P1", "p9"], "name": ["y", "z"]})
    r = sync(SyncParent, df, key="code")
    print(r)
