"""``manage.py preview_airline_deletion UA``: what deleting airlines would remove.

Nothing is deleted: winidjango's ``simulate_bulk_deletion`` runs Django's
deletion collector, the code a real delete runs, and only reads. The output
lists, per model, how many rows the delete would remove, cascades included:
an airline takes its flights with it; planes and airports stay.
"""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.db import router

from examples.flights.flights.models import Airline
from winidjango.src.commands.base.base import ABCBaseCommand
from winidjango.src.db.bulk import simulate_bulk_deletion


class Command(ABCBaseCommand):
    help = (
        "Show what deleting the given airlines would delete, per model, "
        "cascades included. Nothing is deleted."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: ``{"app.Model": rows}`` the last preview found.
        self.counts: dict[str, int] = {}

    def add_command_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "carriers",
            nargs="+",
            metavar="CARRIER",
            help="Airline codes, e.g. UA AA.",
        )

    def handle_command(self) -> None:
        alias = self.database or router.db_for_write(Airline)
        codes = list(dict.fromkeys(self.get_option("carriers")))
        airlines = list(
            Airline.objects.using(alias).filter(carrier__in=codes).order_by("carrier")
        )
        unknown = sorted(set(codes) - {airline.carrier for airline in airlines})
        if unknown:
            known = Airline.objects.using(alias).order_by("carrier")
            codes_known = " ".join(known.values_list("carrier", flat=True))
            message = (
                f"No airline {', '.join(unknown)} in database {alias!r} "
                f"(known: {codes_known or 'none; run import_flights first'})"
            )
            raise CommandError(message)
        preview = simulate_bulk_deletion(Airline, airlines, using=alias)
        counts = {
            str(model._meta.label): len(objs)
            for model, objs in sorted(
                preview.items(), key=lambda item: item[0]._meta.label
            )
        }
        names = ", ".join(str(airline) for airline in airlines)
        self.say(f"Deleting {names} would delete, cascades included:")
        width = max(len(label) for label in counts)
        for label, count in counts.items():
            self.say(f"  {label:<{width}} {count:>9,}")
        self.say("Nothing was deleted (a preview).")
        self.counts = counts
