#!/usr/bin/env python
"""Django's command-line utility for the flights demo.

Run it from the repository root: ``uv run examples/flights/manage.py <command>``.
"""

import os
import sys
from pathlib import Path

from django.core.management import execute_from_command_line

# The project is imported as ``examples.flights...`` from the repository root,
# the same names the test suite uses. Python put this script's folder first on
# sys.path; replacing it with the root also keeps the app from being importable
# a second time as a top-level ``flights`` package.
ROOT = Path(__file__).resolve().parents[2]
sys.path[0] = str(ROOT)


def main() -> None:
    """Run the management command named on the command line."""
    os.environ.setdefault(
        "DJANGO_SETTINGS_MODULE", "examples.flights.flights_project.settings"
    )
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
