from argparse import ArgumentParser

from django.db import router

from library.models import Author
from winidjango.src.commands.base.base import ABCBaseCommand
from winidjango.src.db.bulk import bulk_update_in_steps


class Command(ABCBaseCommand):
    help = "Give authors without a birth year the year passed with --year."
    # One transaction around handle_command: an error, a timeout or Ctrl-C
    # leaves the database as it was.
    atomic = True

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="The year.")

    def handle_command(self) -> None:
        # Without --database the router decides where Author lives; make the
        # command's transaction cover that database too.
        self.include_in_transaction(self.database or router.db_for_write(Author))
        authors = list(Author.objects.using(self.database).filter(birth_year=None))
        for author in authors:
            author.birth_year = self.get_option("year")
        if (
            authors
            and not self.force
            and not self.confirm(f"Change {len(authors)} authors?")
        ):
            return
        updated = bulk_update_in_steps(
            Author,
            authors,
            ["birth_year"],
            self.batch_size,
            using=self.database,
            threads=self.threads,
        )
        self.say(f"{updated} authors updated")
