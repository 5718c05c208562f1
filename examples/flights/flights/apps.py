from django.apps import AppConfig


class FlightsConfig(AppConfig):
    # The dotted path from the repository root, so that the test suite (which
    # runs there) and the demo's manage.py import the app under one name.
    name = "examples.flights.flights"
    label = "flights"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "NYC flights 2013"
