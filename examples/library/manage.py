#!/usr/bin/env python
"""Django's command-line utility for the documentation's example project.

From the repository root: ``uv run examples/library/manage.py <command>``.
Python puts this script's folder on the path, so the app is ``library``, as
in the docs.
"""

import os
import sys

from django.core.management import execute_from_command_line


def main() -> None:
    """Run the management command named on the command line."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "library_project.settings")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
