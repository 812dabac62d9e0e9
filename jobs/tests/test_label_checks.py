"""Label-set checks at submit: warnings on the job form (dismissible) and in the API."""

from __future__ import annotations

import numpy as np
import pytest

from inference import services as inference
from inference import vectors
from inference.models import TextEmbedding
from jobs.label_checks import labels_check
from jobs.models import Job

pytestmark = pytest.mark.django_db


def store_text_vectors(version, named: dict[str, list[float]]) -> None:
    """What a worker writes after encoding labels (the web side only reads these)."""
    for label, values in named.items():
        vector = np.asarray(values, dtype="<f4")
        TextEmbedding.objects.create(
            model_version=version,
            label=label,
            template_set=vectors.template_set(version),
            dim=len(vector),
            vector=vector.tobytes(),
        )


def test_near_duplicates_use_stored_text_embeddings_when_every_label_has_one():
    version = inference.model_version_active(kind="zero_shot")
    store_text_vectors(version, {"cat": [1, 0, 0], "kitty": [0.99, 0.1, 0], "dog": [0.6, 0.8, 0]})
    found = labels_check(
        job_type="custom_classification",
        model_version=version,
        asked=["cat", "kitty", "dog"],
        labels=["cat", "kitty", "dog"],
    )
    assert [(w.code, w.labels) for w in found] == [("near_duplicate", ("cat", "kitty"))]
    assert "text similarity 0.99" in found[0].message
    # "dog" has no stored vector here: the check falls back to spelling and says so.
    fallback = labels_check(
        job_type="custom_classification",
        model_version=version,
        asked=["grey cat", "gray cat", "bird"],
        labels=["grey cat", "gray cat", "bird"],
    )
    assert [(w.code, w.labels) for w in fallback] == [("near_duplicate", ("grey cat", "gray cat"))]
    assert "compared by spelling" in fallback[0].message


def test_empty_and_not_imagenet_labels():
    zero_shot = inference.model_version_active(kind="zero_shot")
    imagenet = inference.model_version_active(kind="imagenet")
    empty = labels_check(
        job_type="custom_classification",
        model_version=zero_shot,
        asked="cat\n\n  \ndog\n\n",
        labels=["cat", "dog"],
    )
    assert [(w.code, w.message) for w in empty] == [
        ("empty_label", "2 empty labels were left out.")
    ]
    unknown = labels_check(
        job_type="image_classification",
        model_version=imagenet,
        asked=["goldfish", "Tabby", "spaceship", "cat on a mat"],
        labels=[],
    )
    # "Tabby" is ImageNet's "tabby" (case ignored); the other two are not classes.
    assert [(w.code, w.labels) for w in unknown] == [
        ("not_imagenet", ("spaceship", "cat on a mat"))
    ]
    assert "“spaceship”, “cat on a mat”: not among the 1000 ImageNet classes" in unknown[0].message


def test_api_submit_returns_warnings_and_still_creates_the_job(
    token_client, images, inference_available
):
    response = token_client.post(
        "/api/v1/submit",
        {
            "job_type": "custom_classification",
            "image_ids": [str(i.id) for i in images],
            "custom_labels": ["cats", "cat", "bird"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    # (A blank label is refused by the API's schema with a 400; the form's textarea,
    # where blank lines are easy to leave, warns instead: see the page test.)
    assert [(w["code"], w["labels"]) for w in body["warnings"]] == [
        ("near_duplicate", ["cats", "cat"]),
    ]
    assert Job.objects.get(pk=body["job_id"]).labels == ["cats", "cat", "bird"]
    clean = token_client.post(
        "/api/v1/submit",
        {"job_type": "image_classification", "image_ids": [str(images[0].id)]},
        format="json",
    )
    assert (clean.status_code, clean.json()["warnings"]) == (201, [])


def test_job_form_shows_warnings_and_starts_only_when_dismissed(client_user, images):
    form = {
        "image": [str(i.id) for i in images],
        "job_type": "custom_classification",
        "custom_labels": "grey cat\ngray cat\ndog",
        "top_k": "3",
        "confidence_threshold": "0",
    }
    shown = client_user.post("/jobs/new/", form)
    assert shown.status_code == 200
    page = shown.content.decode()
    assert 'id="label-warnings"' in page
    assert "“grey cat” and “gray cat” are spelled almost the same" in page
    assert 'name="dismiss_warnings" value="1"' in page
    assert Job.objects.count() == 0  # nothing stored until the person dismisses them
    started = client_user.post("/jobs/new/", {**form, "dismiss_warnings": "1"})
    job = Job.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/jobs/{job.id}/"
    assert job.labels == ["grey cat", "gray cat", "dog"]
    # Labels with nothing to warn about start at once.
    plain = client_user.post("/jobs/new/", {**form, "custom_labels": "cat\ndog"})
    assert plain.status_code == 302 and Job.objects.count() == 2
