from django.contrib.auth.models import User
from django.db.models import (
    Field,
    ForeignKey,
    ForeignObjectRel,
    ManyToManyField,
    ManyToManyRel,
    OneToOneField,
    OneToOneRel,
)

from tests.testapp.models import Author, Book, Category, Place, Restaurant, Tag
from winidjango.src.db.fields import get_field_names, get_fields, get_model_meta


def test_get_model_meta_of_class_and_instance_is_the_same_options() -> None:
    assert get_model_meta(Book) is Book._meta
    assert get_model_meta(Book(title="Dune")) is Book._meta
    assert get_model_meta(Book).db_table == "testapp_book"
    assert get_model_meta(User).label == "auth.User"


def test_get_fields_is_django_get_fields_as_a_list() -> None:
    fields = get_fields(Book)
    assert isinstance(fields, list)
    assert fields == list(Book._meta.get_fields())


def test_get_fields_returns_reverse_then_concrete_then_many_to_many() -> None:
    fields = get_fields(Book)
    assert get_field_names(fields) == [
        "reviews",
        "loans",
        "id",
        "title",
        "author",
        "editor",
        "pages",
        "tags",
    ]
    by_name = {field.name: field for field in fields}
    assert isinstance(by_name["reviews"], ForeignObjectRel)
    assert isinstance(by_name["loans"], ForeignObjectRel)
    assert isinstance(by_name["author"], ForeignKey)
    assert isinstance(by_name["editor"], ForeignKey)
    assert isinstance(by_name["tags"], ManyToManyField)
    assert isinstance(by_name["title"], Field)


def test_get_fields_of_instance_equals_fields_of_class() -> None:
    assert get_fields(Book(title="Dune")) == get_fields(Book)


def test_get_fields_includes_reverse_relations_of_each_kind() -> None:
    assert get_field_names(get_fields(Author)) == [
        "books",
        "edited_books",
        "scores",
        "id",
        "name",
        "birth_year",
    ]
    tag_fields = get_fields(Tag)
    assert get_field_names(tag_fields) == ["books", "id", "name"]
    assert isinstance(tag_fields[0], ManyToManyRel)
    place_fields = get_fields(Place)
    assert get_field_names(place_fields) == ["restaurant", "id", "name"]
    assert isinstance(place_fields[0], OneToOneRel)


def test_get_fields_of_self_referencing_model() -> None:
    assert get_field_names(get_fields(Category)) == ["children", "id", "name", "parent"]


def test_get_fields_of_multi_table_child_includes_parent_fields() -> None:
    fields = get_fields(Restaurant)
    assert get_field_names(fields) == ["id", "name", "place_ptr", "serves_pizza"]
    parent_link = fields[2]
    assert isinstance(parent_link, OneToOneField)
    assert parent_link.remote_field.parent_link


def test_get_fields_of_auth_user() -> None:
    names = get_field_names(get_fields(User))
    assert {"id", "username", "email", "password", "date_joined"} <= set(names)
    assert names[-2:] == ["groups", "user_permissions"]


def test_get_fields_returns_a_new_list_each_time() -> None:
    fields = get_fields(Book)
    fields.clear()
    assert len(get_fields(Book)) == 8


def test_get_field_names_keeps_order_and_accepts_any_iterable() -> None:
    fields = get_fields(Book)
    assert get_field_names(reversed(fields)) == list(reversed(get_field_names(fields)))
    assert get_field_names(field for field in fields if field.concrete) == [
        "id",
        "title",
        "author",
        "editor",
        "pages",
    ]
    assert get_field_names([]) == []
