"""An ABCBaseCommand that never touches a database (and is not ``atomic``).

It says whether a transaction was open on any configured database while it
ran, without connecting to one: ``in_atomic_block`` is plain bookkeeping of
the connection object.
"""

from argparse import ArgumentParser

from django.db import connections

from winidjango.src.commands.base.base import ABCBaseCommand


class Command(ABCBaseCommand):
    help = "Do no database work; report whether a transaction was open."

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        pass

    def handle_command(self) -> None:
        self.in_transaction = {
            alias: connections[alias].in_atomic_block for alias in connections
        }
        self.stdout.write(f"in transaction: {any(self.in_transaction.values())}")
