"""Related ids before a bulk insert: the same outcome as Django's own method."""

import pytest

from tests.testapp.models import Author, Book, Category
from winidjango.src.db._related import RelatedIds
from winidjango.src.db.bulk import bulk_create_in_steps, bulk_update_in_steps


def test_parent_saved_after_assignment_gives_its_id(alias: str) -> None:
    ann = Author(name="Ann")
    book = Book(title="t", author=ann)
    ann.save()
    bulk_create_in_steps(Book, [book])
    assert Book.objects.get().author_id == ann.pk


def test_unsaved_parent_refused_with_djangos_message(alias: str) -> None:
    book = Book(title="t", author=Author(name="never saved"))
    with pytest.raises(ValueError, match="unsaved related object 'author'"):
        bulk_create_in_steps(Book, [book])
    assert not Book.objects.exists()


def test_id_changed_by_hand_wins_and_drops_the_stale_object(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    bob = Author.objects.create(name="Bob")
    book = Book(title="t", author=ann)
    book.author_id = bob.pk
    bulk_create_in_steps(Book, [book])
    assert Book.objects.get().author_id == bob.pk
    assert book.author == bob


def test_nullable_relation_set_to_none_is_left_alone(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    book = Book(title="t", author=ann, editor=None)
    bulk_create_in_steps(Book, [book])
    assert Book.objects.get().editor_id is None


def test_deferred_id_falls_back_to_djangos_method(alias: str) -> None:
    parent = Category.objects.create(name="root")
    child = Category.objects.only("name").get(pk=parent.pk)
    child.parent = parent
    del child.__dict__["parent_id"]
    RelatedIds(Category).prepare([child], "bulk_create")
    assert child.parent_id == parent.pk


def test_same_outcome_as_djangos_method(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    ours = [Book(title=str(i), author=ann) for i in range(3)]
    theirs = [Book(title=str(i), author=ann) for i in range(3)]
    RelatedIds(Book).prepare(ours, "bulk_create")
    for book in theirs:
        book._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
    for mine, django_s in zip(ours, theirs, strict=True):
        assert mine.author_id == django_s.author_id == ann.pk
        assert mine._state.fields_cache == django_s._state.fields_cache


def test_update_copies_ids_of_its_fields_only(alias: str) -> None:
    ann = Author.objects.create(name="Ann")
    book = Book.objects.create(title="t", author=ann)
    bob = Author(name="Bob")
    book.author = bob
    bob.save()
    # editor is not an update field: an unsaved editor is not looked at.
    book.editor = Author(name="never saved")
    bulk_update_in_steps(Book, [book], ["author"])
    assert Book.objects.get().author_id == bob.pk
    book.author = Author(name="unsaved")
    with pytest.raises(ValueError, match=r"bulk_update\(\).*'author'"):
        bulk_update_in_steps(Book, [book], ["author"])
    assert Book.objects.get().author_id == bob.pk
