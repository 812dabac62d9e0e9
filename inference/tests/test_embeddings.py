import numpy as np
import pytest

from classifier_site.testing.images import encode, gradient
from inference.models import ImageEmbedding, TextEmbedding
from inference.registry import backend_get
from inference.services import classify, model_version_active
from inference.tests.conftest import image_input


def _run(version, inputs, labels, top_k=3, batch_size=None):
    return [
        o
        for batch in classify(
            model_version=version, inputs=inputs, labels=labels, top_k=top_k, batch_size=batch_size
        )
        for o in batch
    ]


@pytest.fixture
def images():
    return [image_input(f"img-{s}", encode(gradient(seed=s))) for s in range(5)]


def test_new_labels_on_embedded_images_need_no_image_forward_pass(db, inference_weights, images):
    version = model_version_active(kind="zero_shot")
    _run(version, images, ["cat", "dog"])
    backend = backend_get(model_version=version)
    forwarded = backend.images_forwarded

    again = _run(version, images, ["car", "boat", "tree"], top_k=2)

    assert backend.images_forwarded == forwarded
    assert [o.from_cache for o in again] == [True] * 5
    assert [len(o.predictions) for o in again] == [2] * 5
    # The same scores as a fresh classification (stored vectors dropped, model run again).
    ImageEmbedding.objects.all().delete()
    fresh = _run(version, images, ["car", "boat", "tree"], top_k=2)
    assert backend.images_forwarded == forwarded + 5
    assert [o.from_cache for o in fresh] == [False] * 5
    assert [[p.label for p in o.predictions] for o in again] == [
        [p.label for p in o.predictions] for o in fresh
    ]
    assert [p.score for o in again for p in o.predictions] == pytest.approx(
        [p.score for o in fresh for p in o.predictions], abs=1e-6
    )


def test_vectors_and_text_embeddings_are_stored_once(db, inference_weights, images):
    version = model_version_active(kind="zero_shot")
    duplicate = image_input("same-bytes-again", encode(gradient(seed=0)))
    backend = backend_get(model_version=version)
    before = backend.images_forwarded

    _run(version, [*images, duplicate], ["cat", "dog"], batch_size=2)
    _run(version, images, ["dog", "bird"])

    assert backend.images_forwarded == before + 5
    rows = ImageEmbedding.objects.filter(model_version=version)
    assert sorted(rows.values_list("content_hash", flat=True)) == sorted(
        i.content_hash for i in images
    )
    vector = np.frombuffer(rows.first().vector, dtype="<f4")
    assert (rows.first().dim, vector.shape) == (64, (64,))
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    assert sorted(TextEmbedding.objects.values_list("label", "template_set")) == [
        ("bird", "openai_imagenet"),
        ("cat", "openai_imagenet"),
        ("dog", "openai_imagenet"),
    ]


def test_imagenet_logits_are_stored_and_reused_for_another_top_k(db, inference_weights, images):
    version = model_version_active(kind="imagenet")
    first = _run(version, images[:2], None, top_k=5)
    backend = backend_get(model_version=version)
    forwarded = backend.images_forwarded

    second = _run(version, images[:2], None, top_k=2)

    assert backend.images_forwarded == forwarded
    assert [o.predictions for o in second] == [o.predictions[:2] for o in first]
    assert ImageEmbedding.objects.get(content_hash=images[0].content_hash).dim == 1000
    scores = [p.score for p in first[0].predictions]
    assert scores == sorted(scores, reverse=True)


def test_outcomes_come_per_batch_in_input_order(db, inference_weights, images):
    version = model_version_active(kind="imagenet")
    batches = list(
        classify(model_version=version, inputs=images, labels=None, top_k=1, batch_size=2)
    )
    assert [[o.key for o in batch] for batch in batches] == [
        ["img-0", "img-1"],
        ["img-2", "img-3"],
        ["img-4"],
    ]


def test_zero_shot_without_labels_is_refused(db, inference_weights, images):
    version = model_version_active(kind="zero_shot")
    with pytest.raises(ValueError, match="Zero-shot classification needs labels."):
        list(classify(model_version=version, inputs=images, labels=None, top_k=1))
