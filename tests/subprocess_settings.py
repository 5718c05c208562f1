"""Settings for a command run in a subprocess by a test.

The test's settings, with ``default`` replaced by the database settings in
the environment variable ``WINIDJANGO_SUBPROCESS_DATABASE`` (JSON): the test
database of the running test, or a database that cannot be reached.
"""

import json
import os

from tests.settings import *  # noqa: F403

DATABASES = {"default": json.loads(os.environ["WINIDJANGO_SUBPROCESS_DATABASE"])}
