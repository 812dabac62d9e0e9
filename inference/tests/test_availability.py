"""Workers report which models they can run; the web reads only those reports."""

import pytest

from inference.models import ModelAvailability
from inference.registry import backends_clear
from inference.selectors import (
    model_version_available,
    model_version_default,
    model_versions_available,
)
from inference.services import classify, model_availability_report
from inference.tests.conftest import image_input


@pytest.fixture(autouse=True)
def _fresh_backends():
    backends_clear()
    yield
    backends_clear()


def test_a_worker_reports_what_it_can_run_and_why_not(db, settings, tmp_path):
    settings.WEIGHTS_DIR = tmp_path  # offline worker: only the packaged EfficientNet-Lite0
    settings.MODEL_CACHE_DIR = tmp_path / "cache"
    settings.WEIGHTS_DOWNLOAD = False
    settings.CLIP_MODEL, settings.CLIP_PRETRAINED, settings.CLIP_MODEL_CONFIG = (
        "ViT-B-32",
        "laion2b_s34b_b79k",
        "",
    )

    reports = {r.model_version.name: r for r in model_availability_report(worker="w1")}

    assert {name: r.ready for name, r in reports.items()} == {
        "mobilenet_v2/imagenet1k_v2": False,
        "efficientnet_lite0/tf_in1k": True,
        "open_clip/ViT-B-32/laion2b_s34b_b79k": False,
    }
    ready = reports["efficientnet_lite0/tf_in1k"]
    assert (ready.engine, ready.precision, ready.reason) == ("openvino", "fp32", "")
    assert reports["open_clip/ViT-B-32/laion2b_s34b_b79k"].reason.startswith(
        "Weights for open_clip/ViT-B-32/laion2b_s34b_b79k are missing and downloads are off"
    )
    assert [v.name for v in model_versions_available()] == ["efficientnet_lite0/tf_in1k"]
    assert model_version_default(kind="imagenet").name == "efficientnet_lite0/tf_in1k"
    assert model_version_default(kind="zero_shot") is None
    assert model_version_available(model_version=ready.model_version)
    # A second report from the same worker replaces its rows.
    model_availability_report(worker="w1")
    assert ModelAvailability.objects.filter(worker="w1").count() == 3


def test_web_availability_is_only_what_workers_reported(db, inference_weights):
    from inference.services import model_version_active

    version = model_version_active(kind="imagenet")  # weights on this disk, no report
    assert not model_version_available(model_version=version)
    assert model_version_default(kind="imagenet") is None
    model_availability_report(worker="w1")
    assert model_version_available(model_version=version)
    assert model_version_default(kind="imagenet") == version


def test_a_model_that_stops_loading_is_reported_unavailable(db, settings, inference_weights):
    import socket

    from inference.errors import WeightsCorrupt

    model_availability_report(worker=socket.gethostname())
    version = model_version_default(kind="imagenet")
    backends_clear()
    settings.WEIGHTS_SHA256 = "mobilenet_v2=" + "1" * 64  # the file changed under the worker
    with pytest.raises(WeightsCorrupt):
        list(classify(model_version=version, inputs=[image_input("a", b"x")], labels=None, top_k=1))
    assert not model_version_available(model_version=version)


def test_template_set_is_a_per_call_option(db, inference_weights):
    from classifier_site.testing.images import encode as image_bytes
    from classifier_site.testing.images import gradient
    from inference.models import TextEmbedding
    from inference.services import model_version_active

    version = model_version_active(kind="zero_shot")
    inputs = [image_input("a", image_bytes(gradient()))]
    default = next(classify(model_version=version, inputs=inputs, labels=["cat", "dog"], top_k=2))
    single = next(
        classify(
            model_version=version,
            inputs=inputs,
            labels=["cat", "dog"],
            top_k=2,
            template_set="single",
        )
    )
    assert sorted(TextEmbedding.objects.values_list("template_set", "label")) == [
        ("openai_imagenet", "cat"),
        ("openai_imagenet", "dog"),
        ("single", "cat"),
        ("single", "dog"),
    ]
    assert [p.score for p in default[0].predictions] != [p.score for p in single[0].predictions]
    with pytest.raises(ValueError, match="must contain"):
        next(
            classify(
                model_version=version,
                inputs=inputs,
                labels=["cat"],
                top_k=1,
                template_set="no placeholder",
            )
        )
