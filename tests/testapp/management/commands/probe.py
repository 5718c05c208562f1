"""An ABCBaseCommand that exercises every common option.

It prints the common options it sees as one JSON line (``options: {...}``),
creates the authors named by ``--names``, then optionally asks before deleting
every author (``--purge``), sleeps (``--sleep``) or spins while checking its
time limit (``--spin``). ``--signal INT|TERM`` sends that signal to its
own process after writing, and ``--unatomic-bulk`` writes with
``atomic=False`` (from worker threads with ``--threads``).
"""

import json
import os
import signal
import time
from argparse import ArgumentParser
from typing import Any

from django.db import router

from tests.testapp.models import Author
from winidjango.src.commands.base.base import ABCBaseCommand
from winidjango.src.db.bulk import bulk_create_in_steps

COMMON = (
    "dry_run",
    "force",
    "delete",
    "yes",
    "timeout",
    "batch_size",
    "threads",
    "processes",
    "database",
)


class Command(ABCBaseCommand):
    help = "Probe the common options: create authors, maybe purge, maybe wait."
    atomic = True

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--names", default="", help="Comma-separated author names.")
        parser.add_argument(
            "--purge", action="store_true", help="Delete all authors, if confirmed."
        )
        parser.add_argument(
            "--no-include",
            action="store_true",
            help="Write without including the router's database in the transaction.",
        )
        parser.add_argument(
            "--sleep", type=float, default=0.0, help="Seconds to sleep at the end."
        )
        parser.add_argument(
            "--signal",
            choices=["INT", "TERM"],
            default=None,
            help="Send this signal to the own process after writing.",
        )
        parser.add_argument(
            "--unatomic-bulk",
            action="store_true",
            help="Write the authors with atomic=False (workers with --threads).",
        )
        parser.add_argument(
            "--spin",
            type=float,
            default=0.0,
            help="Seconds to loop at the end, calling check_timeout().",
        )

    def handle_command(self) -> None:
        seen = {name: getattr(self, name) for name in COMMON}
        self.seen = seen
        self.say("options: " + json.dumps(seen, sort_keys=True))
        if not self.get_option("no_include"):
            # Without --database the writes go where the router sends them;
            # the transaction (dry run, timeout, errors) must cover that too.
            self.include_in_transaction(self.database or router.db_for_write(Author))
        names = [name for name in self.get_option("names").split(",") if name]
        if names:
            extra: dict[str, Any] = (
                {"atomic": False} if self.get_option("unatomic_bulk") else {}
            )
            created = bulk_create_in_steps(
                Author,
                [Author(name=name) for name in names],
                self.batch_size,
                using=self.database,
                threads=self.threads,
                **extra,
            )
            self.say(f"created {len(created)} authors")
        if self.get_option("signal"):
            os.kill(os.getpid(), getattr(signal, "SIG" + self.get_option("signal")))
        if self.get_option("purge") and self.confirm("Delete all authors?"):
            deleted, _ = Author.objects.using(self.database).all().delete()
            self.say(f"deleted {deleted} authors")
        if self.get_option("sleep"):
            time.sleep(self.get_option("sleep"))
        started = time.monotonic()
        while time.monotonic() - started < self.get_option("spin"):
            self.check_timeout()
            time.sleep(0.01)
