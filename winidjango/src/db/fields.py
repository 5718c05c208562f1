"""Field and model-meta helpers.

Django's ``_meta`` API is powerful but private-looking and loosely typed; these
helpers give it typed, documented entry points that the rest of winidjango (and
its users) rely on.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import Field, ForeignObjectRel, Model
from django.db.models.fields.related import ForeignObject
from django.db.models.options import Options

type AnyField = Field[Any, Any] | ForeignObjectRel | ForeignObject[Any, Any]
"""Anything ``Model._meta.get_fields()`` can return."""


def get_model_meta(model: type[Model] | Model) -> "Options[Any]":
    """Return the ``_meta`` options of a model class or instance.

    Examples:
        >>> from django.contrib.auth.models import User
        >>> get_model_meta(User).db_table
        'auth_user'
    """
    return model._meta


def get_fields(model: type[Model] | Model) -> list[AnyField]:
    """Return every field of ``model``: concrete, relations and reverse relations.

    This is ``Model._meta.get_fields()`` as a list: reverse relations come first,
    then concrete fields, then many-to-many fields, the order Django uses.

    Examples:
        >>> from django.contrib.auth.models import User
        >>> names = get_field_names(get_fields(User))
        >>> "username" in names and "groups" in names
        True
    """
    return list(get_model_meta(model).get_fields())


def get_field_names(fields: Iterable[AnyField]) -> list[str]:
    """Return the ``name`` of each field, in order.

    Examples:
        >>> from django.contrib.auth.models import User
        >>> get_field_names(get_fields(User))[-2:]
        ['groups', 'user_permissions']
    """
    return [field.name for field in fields]
