from __future__ import annotations

import pytest

from categories.models import Category
from categories.services import category_create, category_duplicate
from classifier_site.core.errors import DomainError

pytestmark = pytest.mark.django_db


def test_create_cleans_labels_and_rejects_duplicates(user):
    cat = category_create(owner=user, name=" Pets ", labels="cat\n\n dog \nbird")
    assert (cat.name, cat.labels) == ("Pets", ["cat", "dog", "bird"])
    with pytest.raises(DomainError) as err:
        category_create(owner=user, name="pets", labels=["x"])
    assert err.value.field == "name"
    with pytest.raises(DomainError) as err:
        category_create(owner=user, name="Other", labels=["Cat", "cat"])
    assert err.value.field == "labels"
    assert Category.objects.count() == 1


def test_duplicate_picks_a_free_name(user):
    cat = category_create(owner=user, name="Pets", labels=["cat"])
    assert category_duplicate(category=cat).name == "Pets (copy)"
    assert category_duplicate(category=cat).name == "Pets (copy 2)"


def test_pages_create_edit_duplicate_delete(client_user, user):
    response = client_user.post(
        "/categories/new/", {"name": "Animals", "labels": "cat\ndog", "description": ""}
    )
    assert response["Location"] == "/categories/"
    cat = Category.objects.get()
    assert cat.labels == ["cat", "dog"]
    client_user.post(f"/categories/{cat.pk}/edit/", {"name": "Animals", "labels": "cow"})
    cat.refresh_from_db()
    assert cat.labels == ["cow"]
    client_user.post(f"/categories/{cat.pk}/duplicate/")
    assert sorted(Category.objects.values_list("name", flat=True)) == [
        "Animals",
        "Animals (copy)",
    ]
    response = client_user.post(f"/categories/{cat.pk}/delete/", HTTP_HX_REQUEST="true")
    assert response.content.decode().lstrip().startswith('<div id="category-table">')
    assert list(Category.objects.values_list("name", flat=True)) == ["Animals (copy)"]


def test_page_validation_errors(client_user):
    response = client_user.post("/categories/new/", {"name": "X", "labels": "a\nA"})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["labels"]


def test_api_crud(token_client):
    created = token_client.post(
        "/api/v1/categories", {"name": "Cars", "labels": ["sedan", "truck"]}, format="json"
    )
    assert created.status_code == 201
    cid = created.json()["id"]
    listing = token_client.get("/api/v1/categories")
    assert (listing["X-Total-Count"], len(listing.json())) == ("1", 1)
    patched = token_client.patch(f"/api/v1/categories/{cid}", {"labels": ["van"]}, format="json")
    assert patched.json()["labels"] == ["van"]
    bad = token_client.post(
        "/api/v1/categories", {"name": "Bad", "labels": ["a" * 101]}, format="json"
    )
    # The serializer names the label (its position), as the schema's maxLength says.
    assert (bad.status_code, list(bad.json()["error"]["fields"])) == (400, ["labels.0"])
    assert token_client.delete(f"/api/v1/categories/{cid}").status_code == 204


def test_other_user_gets_404_and_nothing_changes(other_token_client, client, other_user, user):
    cat = category_create(owner=user, name="Mine", labels=["a"])
    client.force_login(other_user)
    for method, url in [
        ("get", f"/categories/{cat.pk}/edit/"),
        ("post", f"/categories/{cat.pk}/edit/"),
        ("post", f"/categories/{cat.pk}/duplicate/"),
        ("post", f"/categories/{cat.pk}/delete/"),
    ]:
        assert getattr(client, method)(url).status_code == 404, url
    for method, url in [
        ("get", f"/api/v1/categories/{cat.pk}"),
        ("patch", f"/api/v1/categories/{cat.pk}"),
        ("delete", f"/api/v1/categories/{cat.pk}"),
    ]:
        assert getattr(other_token_client, method)(url, {}, format="json").status_code == 404
    assert other_token_client.get("/api/v1/categories").json() == []
    cat.refresh_from_db()
    assert (cat.name, cat.labels, Category.objects.count()) == ("Mine", ["a"], 1)
