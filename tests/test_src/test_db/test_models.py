import itertools
from datetime import timedelta
from graphlib import CycleError

import pytest
from django.contrib.auth.models import User
from django.db import connections, models
from django.db.models import Model
from django.test.utils import isolate_apps
from django.utils import timezone

from tests.testapp.models import (
    Article,
    Author,
    Book,
    Category,
    Country,
    Loan,
    Place,
    Restaurant,
    Review,
    Tag,
)
from winidjango.src.db.fields import get_fields
from winidjango.src.db.models import (
    BaseModel,
    hash_model_instance,
    topological_sort_models,
)

# Written out by hand from tests/testapp/models.py, so that the sort is checked
# against the relations as declared rather than against its own reading of them.
DEPENDS_ON: dict[type[Model], set[type[Model]]] = {
    Author: set(),
    Book: {Author},
    Review: {Book},
    Category: set(),  # only a self-reference
    Place: set(),
    Restaurant: {Place},  # multi-table inheritance parent link
    Tag: set(),  # Book.tags is many-to-many: no dependency either way
}


def _expected_order(models_in: list[type[Model]]) -> list[type[Model]]:
    """Repeatedly take the first input model whose dependencies are placed."""
    remaining = list(models_in)
    placed: list[type[Model]] = []
    while remaining:
        model = next(
            candidate
            for candidate in remaining
            if all(
                dependency in placed or dependency not in models_in
                for dependency in DEPENDS_ON[candidate]
            )
        )
        remaining.remove(model)
        placed.append(model)
    return placed


# --- topological_sort_models -------------------------------------------------


def test_sort_example_from_the_issue() -> None:
    assert topological_sort_models([Review, Author, Book, Tag]) == [
        Author,
        Book,
        Review,
        Tag,
    ]


def test_sort_every_permutation_is_valid_and_deterministic() -> None:
    for permutation in itertools.permutations(DEPENDS_ON):
        models_in = list(permutation)
        result = topological_sort_models(models_in)
        assert sorted(result, key=str) == sorted(models_in, key=str)
        for model in result:
            for dependency in DEPENDS_ON[model]:
                assert result.index(dependency) < result.index(model), (
                    models_in,
                    result,
                )
        assert result == _expected_order(models_in), models_in
        assert topological_sort_models(models_in) == result


def test_sort_keeps_input_order_of_independent_models() -> None:
    models_in: list[type[Model]] = [Tag, Category, Author, Place, Country]
    assert topological_sort_models(models_in) == models_in
    assert topological_sort_models(reversed(models_in)) == models_in[::-1]


def test_sort_puts_multi_table_child_after_parent() -> None:
    assert topological_sort_models([Restaurant, Place]) == [Place, Restaurant]


def test_sort_ignores_self_reference() -> None:
    assert topological_sort_models([Category]) == [Category]
    assert topological_sort_models([Category, Author, Book]) == [
        Category,
        Author,
        Book,
    ]


def test_sort_only_counts_dependencies_among_given_models() -> None:
    # Review -> Book -> Author, but Book is not given: nothing links them.
    assert topological_sort_models([Review, Author]) == [Review, Author]
    assert topological_sort_models([Loan, Review]) == [Loan, Review]


def test_sort_ignores_many_to_many_but_orders_its_through_model() -> None:
    through: type[Model] = Book.tags.through
    assert topological_sort_models([Book, Tag]) == [Book, Tag]
    models_in: list[type[Model]] = [through, Tag, Book]
    assert topological_sort_models(models_in) == [Tag, Book, through]


def test_sort_counts_editor_and_author_foreign_keys_once() -> None:
    # Book points at Author twice (author and editor).
    assert topological_sort_models([Book, Author]) == [Author, Book]


def test_sort_drops_duplicates_and_accepts_iterators() -> None:
    assert topological_sort_models([Book, Author, Book, Author]) == [Author, Book]
    assert topological_sort_models(iter([Review, Book, Author])) == [
        Author,
        Book,
        Review,
    ]
    assert topological_sort_models([]) == []


def test_sort_counts_one_to_one_fields() -> None:
    with isolate_apps("tests.testapp"):

        class Person(models.Model):
            class Meta:
                app_label = "testapp"
                managed = False

        class Passport(models.Model):
            holder = models.OneToOneField(Person, on_delete=models.CASCADE)

            class Meta:
                app_label = "testapp"
                managed = False

        assert topological_sort_models([Passport, Person]) == [Person, Passport]


def test_sort_raises_cycle_error_naming_the_models() -> None:
    with isolate_apps("tests.testapp"):

        class Chicken(models.Model):
            egg = models.ForeignKey("Egg", on_delete=models.CASCADE)

            class Meta:
                app_label = "testapp"
                managed = False

        class Egg(models.Model):
            chicken = models.OneToOneField(Chicken, on_delete=models.CASCADE)

            class Meta:
                app_label = "testapp"
                managed = False

        for models_in in ([Chicken, Egg, Author], [Author, Egg, Chicken]):
            with pytest.raises(CycleError) as caught:
                topological_sort_models(models_in)
            message = caught.value.args[0]
            assert "testapp.Chicken" in message
            assert "testapp.Egg" in message
            assert "Author" not in message
            assert set(caught.value.args[1]) == {Chicken, Egg}

        # Without both ends of the cycle there is no cycle.
        assert topological_sort_models([Chicken, Author]) == [Chicken, Author]
        assert topological_sort_models([Egg]) == [Egg]


def test_sort_raises_for_a_longer_cycle() -> None:
    with isolate_apps("tests.testapp"):

        class Rock(models.Model):
            scissors = models.ForeignKey("Scissors", on_delete=models.CASCADE)

            class Meta:
                app_label = "testapp"
                managed = False

        class Paper(models.Model):
            rock = models.ForeignKey(Rock, on_delete=models.CASCADE)

            class Meta:
                app_label = "testapp"
                managed = False

        class Scissors(models.Model):
            paper = models.ForeignKey(Paper, on_delete=models.CASCADE)

            class Meta:
                app_label = "testapp"
                managed = False

        with pytest.raises(CycleError) as caught:
            topological_sort_models([Paper, Scissors, Rock])
        message = caught.value.args[0]
        for label in ("testapp.Rock", "testapp.Paper", "testapp.Scissors"):
            assert label in message


# --- hash_model_instance -----------------------------------------------------


def test_unsaved_instances_with_equal_values_hash_equal() -> None:
    fields = get_fields(Book)  # includes reverse relations and the M2M "tags"
    first = Book(title="Dune", author_id=1, pages=412)
    second = Book(title="Dune", author_id=1, pages=412)
    assert first is not second
    assert hash_model_instance(first, fields) == hash_model_instance(second, fields)


def test_unsaved_instances_with_different_values_hash_differently() -> None:
    fields = get_fields(Book)
    base = hash_model_instance(Book(title="Dune", author_id=1, pages=412), fields)
    assert base != hash_model_instance(
        Book(title="Emma", author_id=1, pages=412), fields
    )
    assert base != hash_model_instance(
        Book(title="Dune", author_id=2, pages=412), fields
    )
    assert base != hash_model_instance(
        Book(title="Dune", author_id=1, pages=413), fields
    )
    assert base != hash_model_instance(
        Book(title="Dune", author_id=1, editor_id=1, pages=412), fields
    )


def test_unsaved_hash_uses_only_the_given_fields() -> None:
    title_only = [Book._meta.get_field("title")]
    assert hash_model_instance(
        Book(title="Dune", pages=1), title_only
    ) == hash_model_instance(Book(title="Dune", pages=2), title_only)


def test_many_to_many_and_reverse_relations_are_skipped() -> None:
    book = Book(title="Dune", author_id=1)
    concrete = list(Book._meta.concrete_fields)
    assert hash_model_instance(book, get_fields(Book)) == hash_model_instance(
        book, concrete
    )
    # Tag has only a reverse many-to-many ("books") besides its own fields.
    assert hash_model_instance(Tag(name="x"), get_fields(Tag)) == (
        hash_model_instance(Tag(name="x"), list(Tag._meta.concrete_fields))
    )


def test_auth_user_fields_can_be_passed_as_they_are() -> None:
    fields = get_fields(User)  # includes groups, user_permissions, reverse FKs
    joined = timezone.now()
    ann = User(username="ann", date_joined=joined)
    assert hash_model_instance(ann, fields) == hash_model_instance(
        User(username="ann", date_joined=joined), fields
    )
    assert hash_model_instance(ann, fields) != hash_model_instance(
        User(username="bob", date_joined=joined), fields
    )


def test_callable_defaults_are_part_of_the_values() -> None:
    # User.date_joined defaults to timezone.now, so two otherwise equal unsaved
    # users differ unless the field is left out of the hashed fields.
    first = User(username="ann", date_joined=timezone.now())
    second = User(username="ann", date_joined=first.date_joined + timedelta(1))
    fields = get_fields(User)
    assert hash_model_instance(first, fields) != hash_model_instance(second, fields)
    without_date = [field for field in fields if field.name != "date_joined"]
    assert hash_model_instance(first, without_date) == hash_model_instance(
        second, without_date
    )


def test_unsaved_instance_with_manual_primary_key_is_hashed_by_values() -> None:
    fields = get_fields(Country)
    germany = Country(code="DE", name="Germany")
    assert hash_model_instance(germany, fields) == hash_model_instance(
        Country(code="DE", name="Germany"), fields
    )
    assert hash_model_instance(germany, fields) != hash_model_instance(
        Country(code="DE", name="Deutschland"), fields
    )


def test_unhashable_field_values_are_hashed_by_content() -> None:
    with isolate_apps("tests.testapp"):

        class Document(models.Model):
            data = models.JSONField(default=dict)

            class Meta:
                app_label = "testapp"
                managed = False

        fields = get_fields(Document)
        first = Document(data={"a": [1, 2], "b": {"c": 3}})
        second = Document(data={"b": {"c": 3}, "a": [1, 2]})
        other = Document(data={"a": [2, 1], "b": {"c": 3}})
        assert hash_model_instance(first, fields) == hash_model_instance(second, fields)
        assert hash_model_instance(first, fields) != hash_model_instance(other, fields)


def test_saved_instances_with_same_pk_hash_equal_whatever_their_values(
    backend: str,
) -> None:
    fields = get_fields(Book)
    author = Author.objects.create(name="Frank")
    created = Book.objects.create(title="Dune", author=author, pages=412)
    loaded = Book.objects.get(pk=created.pk)
    loaded.title = "Changed in memory"
    loaded.pages = 1
    assert hash_model_instance(created, fields) == hash_model_instance(loaded, fields)
    other = Book.objects.create(title="Dune", author=author, pages=412)
    assert hash_model_instance(created, fields) != hash_model_instance(other, fields)


def test_saved_natural_key_instances_hash_by_primary_key(backend: str) -> None:
    fields = get_fields(Country)
    Country.objects.create(code="DE", name="Germany")
    loaded = Country.objects.get(pk="DE")
    renamed = Country.objects.get(pk="DE")
    renamed.name = "Deutschland"
    assert hash_model_instance(loaded, fields) == hash_model_instance(renamed, fields)


def test_unsaved_foreign_key_by_object_or_by_id_hashes_equal(backend: str) -> None:
    fields = get_fields(Book)
    author = Author.objects.create(name="Frank")
    by_object = Book(title="Dune", author=author)
    by_id = Book(title="Dune", author_id=author.pk)
    assert hash_model_instance(by_object, fields) == hash_model_instance(by_id, fields)


def test_related_object_saved_after_assignment_counts_with_its_pk(
    backend: str,
) -> None:
    fields = get_fields(Book)
    author = Author(name="Frank")
    book = Book(title="Dune", author=author)
    author.save()
    assert book.author_id is None  # Django copies the pk only on book.save()
    assert hash_model_instance(book, fields) == hash_model_instance(
        Book(title="Dune", author_id=author.pk), fields
    )
    other = Author.objects.create(name="Brian")
    assert hash_model_instance(book, fields) != hash_model_instance(
        Book(title="Dune", author_id=other.pk), fields
    )


# --- BaseModel ---------------------------------------------------------------


def test_base_model_is_abstract_and_subclass_with_meta_is_concrete() -> None:
    assert BaseModel._meta.abstract
    with pytest.raises(TypeError):
        BaseModel()  # type: ignore[abstract]
    assert not Article._meta.abstract
    assert Article._meta.db_table == "testapp_article"
    field_names = [field.name for field in Article._meta.concrete_fields]
    assert field_names == ["id", "created_at", "updated_at", "title"]


def test_article_table_exists_with_timestamp_columns(alias: str) -> None:
    introspection = connections[alias].introspection
    with connections[alias].cursor() as cursor:
        assert "testapp_article" in introspection.table_names(cursor)
        columns = {
            column.name
            for column in introspection.get_table_description(cursor, "testapp_article")
        }
    assert {"id", "created_at", "updated_at", "title"} <= columns


def test_created_at_and_updated_at_are_set_on_creation(backend: str) -> None:
    before = timezone.now()
    article = Article.objects.create(title="Hello")
    after = timezone.now()
    assert before <= article.created_at <= after
    assert before <= article.updated_at <= after
    stored = Article.objects.get(pk=article.pk)
    assert stored.created_at == article.created_at
    assert stored.updated_at == article.updated_at


def test_save_moves_updated_at_forward_and_keeps_created_at(backend: str) -> None:
    article = Article.objects.create(title="Hello")
    past = timezone.now() - timedelta(days=1)
    Article.objects.filter(pk=article.pk).update(created_at=past, updated_at=past)
    article.refresh_from_db()
    assert article.created_at == article.updated_at == past

    before_save = timezone.now()
    article.title = "Hello again"
    article.save()

    stored = Article.objects.get(pk=article.pk)
    assert stored.title == "Hello again"
    assert stored.created_at == past
    assert stored.updated_at >= before_save > past

    previous = stored.updated_at
    stored.save()  # a save without changes still moves updated_at
    stored.refresh_from_db()
    assert stored.updated_at > previous
    assert stored.created_at == past


def test_bulk_create_sets_both_timestamps(backend: str) -> None:
    before = timezone.now()
    Article.objects.bulk_create([Article(title="a"), Article(title="b")])
    after = timezone.now()
    stored = list(Article.objects.order_by("title"))
    assert [article.title for article in stored] == ["a", "b"]
    for article in stored:
        assert before <= article.created_at <= after
        assert before <= article.updated_at <= after


def test_queryset_update_and_update_fields_leave_updated_at_alone(
    backend: str,
) -> None:
    # Django's auto_now semantics, inherited unchanged by BaseModel.
    article = Article.objects.create(title="Hello")
    past = timezone.now() - timedelta(days=1)
    Article.objects.filter(pk=article.pk).update(updated_at=past)
    Article.objects.filter(pk=article.pk).update(title="Bulk")
    assert Article.objects.get(pk=article.pk).updated_at == past

    loaded = Article.objects.get(pk=article.pk)
    loaded.title = "Bulk update"
    Article.objects.bulk_update([loaded], ["title"])
    stored = Article.objects.get(pk=article.pk)
    assert (stored.title, stored.updated_at) == ("Bulk update", past)

    article.refresh_from_db()
    article.title = "Partial"
    article.save(update_fields=["title"])
    assert Article.objects.get(pk=article.pk).updated_at == past
    article.save(update_fields=["title", "updated_at"])
    assert Article.objects.get(pk=article.pk).updated_at > past


def test_str_and_repr_show_class_name_and_pk(backend: str) -> None:
    article = Article.objects.create(title="Hello")
    assert str(article) == f"Article({article.pk})"
    assert repr(article) == f"Article({article.pk})"
    assert str(Article.objects.get(pk=article.pk)) == f"Article({article.pk})"
    assert str(Article(title="unsaved")) == "Article(None)"
    assert repr(Article(title="unsaved")) == "Article(None)"


def test_meta_property_is_the_model_options() -> None:
    article = Article(title="Hello")
    assert article.meta is Article._meta
    assert article.meta.db_table == "testapp_article"
    assert article.meta.get_field("created_at").name == "created_at"
