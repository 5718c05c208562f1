"""winidjango: Django utilities for high-volume database work.

Importing this package has no side effects: it neither configures Django nor
opens a database connection. Import the modules you need, for example::

    from winidjango.src.db.bulk import bulk_create_in_steps
"""

__version__ = "0.1.0"
