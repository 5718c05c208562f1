"""Database backends that exist only for the tests of backend selection.

- ``pgsub``, ``sqlitesub``: subclasses of Django's PostgreSQL and SQLite
  wrappers under another vendor name, as third-party backends built on them
  are; winidjango must pick its fast writer for them.
- ``unknowndb``: a wrapper that is none of Django's three (it borrows
  SQLite's implementation without subclassing it); winidjango must fall back
  to Django's own SQL for it.
"""
