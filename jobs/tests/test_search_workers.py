"""Search by meaning through a real worker process (tiny random-weight CLIP, SQS on
loopback): the query is encoded by the worker, photos embedded on demand, and the ranking
equals a direct numpy computation with the same model."""

from __future__ import annotations

import numpy as np
import pytest

from classifier_site.testing.workers import wait_for
from images.models import UserLabel
from images.tests.factories import ImageFactory
from inference import registry
from inference.models import ImageEmbedding, ModelVersion, QueryEmbedding

pytestmark = [pytest.mark.workers]

TEXT = "a red cup on a table"


def test_search_ranks_by_cosine_like_a_direct_computation(
    client,
    token_client,
    user,
    other_user,
    other_token_client,
    inference_weights,
    dramatiq_worker,
    queues,
):
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(5)]
    client.force_login(user)
    worker = dramatiq_worker(queues=["inference", "predict"], env=inference_weights)

    first = client.get("/images/search/", {"text": TEXT})
    assert first.status_code == 200
    html = first.content.decode()
    assert 'id="search-encoding"' in html
    assert "5 of 5 photos not embedded yet" in html
    assert 'hx-trigger="load delay:1500ms"' in html  # the page asks again by itself

    def ready():
        body = token_client.get("/api/v1/search", {"text": TEXT, "limit": 3}).json()
        return body if body["ready"] else None

    try:
        body = wait_for(ready, timeout=120, message="query and photos embedded")
    except AssertionError:
        print(worker.log()[-4000:])
        raise
    version = ModelVersion.objects.get(kind="zero_shot", is_active=True)
    assert (body["considered"], body["pending"], body["model_version"]) == (5, 0, version.name)
    assert QueryEmbedding.objects.filter(model_version=version).count() == 1
    assert ImageEmbedding.objects.filter(model_version=version).count() == 5

    # The same model in this process: query and photos embedded directly, ranked by numpy.
    backend = registry.backend_get(model_version=version)
    query = backend.embed_texts([TEXT], templates="{}")[0]
    photos = np.stack(
        [backend.embed_images(backend.preprocess(i.file.open("rb"))[None])[0] for i in images]
    )
    scores = photos @ query
    order = np.argsort(-scores, kind="stable")[:3]
    assert [h["image_id"] for h in body["results"]] == [str(images[i].id) for i in order]
    assert [h["score"] for h in body["results"]] == pytest.approx(scores[order].tolist(), abs=1e-5)

    # Cached: the page answers at once with the same order; filters combine with it.
    page = client.get("/images/search/", {"text": TEXT})
    assert [h.image.id for h in page.context["result"].hits][:3] == [images[i].id for i in order]
    UserLabel.objects.create(
        image=images[4],
        label="mug",
        source="override",
        labelled_by=user,
        labelled_at=images[4].created_at,
    )
    only = token_client.get("/api/v1/search", {"text": TEXT, "user_label": "mug"}).json()
    assert [h["image_id"] for h in only["results"]] == [str(images[4].id)]

    # Another user searches only their own photos: none of these.
    other = other_token_client.get("/api/v1/search", {"text": TEXT}).json()
    assert (other["considered"], other["results"]) == (0, [])
    blank = token_client.get("/api/v1/search", {"text": "   "})
    assert blank.status_code == 400
