"""Categories taught by example: examples per label, fit statistics, the two classifiers."""

from __future__ import annotations

import numpy as np
import pytest

from categories import examples
from categories.models import Category, CategoryExample
from classifier_site.core.errors import DomainError
from images.tests.factories import ImageFactory
from inference import services as inference
from inference.models import ImageEmbedding

pytestmark = pytest.mark.django_db


def embed(version, image, values) -> None:
    """What a worker stores after embedding the photo (the web side only reads it)."""
    vector = np.asarray(values, dtype="<f4")
    ImageEmbedding.objects.create(
        content_hash=image.sha256, model_version=version, dim=len(vector), vector=vector.tobytes()
    )


@pytest.fixture
def taught(user, inference_weights):
    version = inference.model_version_active(kind="zero_shot")
    category = Category.objects.create(owner=user, name="Pets", labels=["cat", "dog", "fish"])
    points = {
        "cat": [[1, 0.1, 0], [1, -0.1, 0], [0.9, 0, 0.1]],
        # The third "dog" looks like a cat: leave-one-out puts it with the cats.
        "dog": [[0, 1, 0], [0.1, 1, 0], [1, 0.05, 0]],
    }
    for label, vectors_ in points.items():
        for values in vectors_:
            image = ImageFactory(owner=user)
            embed(version, image, values)
            examples.category_examples_add(category=category, label=label, image_ids=[image.id])
    # An example without a stored vector is counted but not used.
    examples.category_examples_add(
        category=category, label="fish", image_ids=[ImageFactory(owner=user).id]
    )
    return category, version


def test_fit_counts_examples_and_separability_and_both_classifiers_agree_with_numpy(taught):
    category, version = taught
    model = examples.examples_fit(category=category, model_version=version)
    assert model.labels == ["cat", "dog"]
    assert [(s.label, s.examples, s.embedded) for s in model.stats] == [
        ("cat", 3, 3),
        ("dog", 3, 3),
        ("fish", 1, 0),
    ]
    assert [s.separable for s in model.stats] == [1.0, pytest.approx(2 / 3), None]
    queries = np.array([[1, 0.02, 0], [0.05, 1, 0.02]], dtype="float32")
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    cats = unit(np.array([[1, 0.1, 0], [1, -0.1, 0], [0.9, 0, 0.1]])).mean(axis=0)
    dogs = unit(np.array([[0, 1, 0], [0.1, 1, 0], [1, 0.05, 0]])).mean(axis=0)
    direct = unit(queries) @ unit(np.stack([cats, dogs])).T
    best, score = model.classify(queries, method="prototype")
    assert best.tolist() == [0, 1]
    assert score == pytest.approx(direct.max(axis=1))
    linear_best, probability = model.classify(queries, method="linear")
    assert linear_best.tolist() == [0, 1]
    assert all(0.5 < p < 1 for p in probability)


def test_examples_only_from_own_images_and_own_labels(taught, other_user):
    category, _ = taught
    foreign = ImageFactory(owner=other_user)
    with pytest.raises(DomainError, match=f"Unknown image id\\(s\\): {foreign.id}."):
        examples.category_examples_add(category=category, label="cat", image_ids=[foreign.id])
    with pytest.raises(DomainError, match="“bird” is not a label of this category."):
        examples.category_examples_add(
            category=category, label="bird", image_ids=[ImageFactory(owner=category.owner).id]
        )
    assert CategoryExample.objects.filter(category=category).count() == 7


def test_category_page_shows_examples_per_label_and_add_route_is_owner_only(
    taught, client_user, client, other_user
):
    category, _ = taught
    page = client_user.get(f"/categories/{category.pk}/edit/").content.decode()
    assert 'id="category-examples"' in page
    assert '<tr data-label="dog"><td>dog</td><td>3</td><td>3</td>' in page
    assert "67 %" in page and "100 %" in page
    image = ImageFactory(owner=category.owner)
    added = client_user.post(
        f"/categories/{category.pk}/examples/", {"label": "fish", "image": [str(image.id)]}
    )
    assert added.status_code == 302
    assert CategoryExample.objects.filter(category=category, label="fish").count() == 2
    client.force_login(other_user)
    refused = client.post(
        f"/categories/{category.pk}/examples/", {"label": "fish", "image": [str(image.id)]}
    )
    assert refused.status_code == 404
    assert CategoryExample.objects.filter(category=category).count() == 8
