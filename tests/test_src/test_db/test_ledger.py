"""The import ledger on SQLite, PostgreSQL and MariaDB."""

import polars as pl
import pytest
from django.db import transaction

from tests.testapp.models import Tag
from winidjango.src.db.bulk import bulk_create_from_frame
from winidjango.src.db.ledger import ImportLedger, LedgerMismatchError, fingerprint

pytestmark = pytest.mark.django_db(transaction=True)


def _commit_batch(
    ledger: ImportLedger, number: int, batch: pl.DataFrame, alias: str, *, fail: bool
) -> None:
    with transaction.atomic(using=alias):
        bulk_create_from_frame(Tag, batch, using=alias)
        ledger.record(number, fingerprint(batch), batch.height)
        if fail:
            raise RuntimeError("killed")  # the batch and its ledger row go


def test_batches_commit_with_their_ledger_row(alias: str) -> None:
    ledger = ImportLedger("tags", using=alias)
    ledger.clear()
    batches = [
        pl.DataFrame({"name": [f"t{b}-{i}" for i in range(3)]}) for b in range(3)
    ]
    _commit_batch(ledger, 0, batches[0], alias, fail=False)
    _commit_batch(ledger, 1, batches[1], alias, fail=False)
    with pytest.raises(RuntimeError):
        _commit_batch(ledger, 2, batches[2], alias, fail=True)
    assert set(ImportLedger("tags", using=alias).committed()) == {0, 1}
    assert Tag.objects.count() == 6

    # Resume: committed batches are skipped, the rest written once.
    resumed = ImportLedger("tags", using=alias)
    for number, batch in enumerate(batches):
        if not resumed.skip(number, fingerprint(batch)):
            _commit_batch(resumed, number, batch, alias, fail=False)
    assert Tag.objects.count() == 9
    assert resumed.clear() == 3
    assert resumed.committed() == {}


def test_changed_source_is_refused_on_resume(alias: str) -> None:
    ledger = ImportLedger("changed", using=alias)
    ledger.clear()
    batch = pl.DataFrame({"name": ["a"]})
    with transaction.atomic(using=alias):
        ledger.record(0, fingerprint(batch), 1)
    other = pl.DataFrame({"name": ["b"]})
    with pytest.raises(LedgerMismatchError, match="source changed"):
        ImportLedger("changed", using=alias).skip(0, fingerprint(other))
    ledger.clear()


def test_bad_name() -> None:
    with pytest.raises(ValueError, match="1 to 200"):
        ImportLedger("")
