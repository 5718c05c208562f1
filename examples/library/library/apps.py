from django.apps import AppConfig


class LibraryConfig(AppConfig):
    # A top-level package, imported as ``library`` as in a Django project of
    # one's own: ``examples/library`` is on the path of the tests (pyproject's
    # pytest ``pythonpath``) and of ``examples/library/manage.py``.
    name = "library"
    label = "library"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Documentation examples: a library"
