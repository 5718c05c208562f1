"""An ABCBaseCommand (not ``atomic``) that runs raw SQL statements.

``--sql`` (repeatable) runs each statement on the database ``--on`` names,
with a plain cursor, the way a command's own raw SQL would; ``--names``
first creates those authors on ``--database`` through the ORM.
"""

from argparse import ArgumentParser

from django.db import connections

from tests.testapp.models import Author
from winidjango.src.commands.base.base import ABCBaseCommand


class Command(ABCBaseCommand):
    help = "Run raw SQL statements on a database."

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--on", default="default", help="Alias to run on.")
        parser.add_argument(
            "--sql", action="append", default=[], help="A statement to run."
        )
        parser.add_argument("--names", default="", help="Authors to create first.")

    def handle_command(self) -> None:
        for name in filter(None, self.get_option("names").split(",")):
            Author.objects.using(self.database).create(name=name)
        with connections[self.get_option("on")].cursor() as cursor:
            for sql in self.get_option("sql"):
                cursor.execute(sql)
                self.say(f"ran: {sql}")
