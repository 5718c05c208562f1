"""A batched import draws one progress line per step, adding up its batches."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.test_src.test_commands.test_import_rejects import _csv
from tests.test_src.test_commands.test_progress import Terminal, final_lines
from tests.testapp.management.commands.import_scores import Command
from tests.testapp.models import Score

pytestmark = pytest.mark.django_db(transaction=True)


def test_batches_share_one_line_per_step(alias: str, tmp_path: Path) -> None:
    feed = _csv(tmp_path, [f"s{i},{i},,A,1" for i in range(1, 8)])
    stderr = Terminal()
    call_command(
        Command(),
        str(feed),
        "--lazy",
        batch_size=2,
        database=alias,
        stdout=io.StringIO(),
        stderr=stderr,
    )
    assert Score.objects.count() == 7
    lines = final_lines(stderr)
    for step in ("clean", "build", "check", "write", "creating testapp.Score"):
        drawn = [line for line in lines if line.split(" ", 1)[1].startswith(step)]
        # Four batches, one line, all seven rows.
        assert len(drawn) == 1, lines
        assert "7/7 rows" in drawn[0], drawn
