import time

import pytest

from classifier_site.testing.images import encode, gradient
from inference.errors import WeightsMissing
from inference.models import ModelVersion
from inference.registry import backend_get, spec_build
from inference.services import classify, model_version_active
from inference.testing import weights_settings, write_test_weights
from inference.tests.conftest import image_input


def test_checkpoints_in_a_local_folder_load_through_the_real_code(db, settings, tmp_path):
    env = write_test_weights(tmp_path / "weights")
    for name, value in weights_settings(env).items():
        setattr(settings, name, value)
    imagenet = model_version_active(kind="imagenet")
    zero_shot = model_version_active(kind="zero_shot")

    mobilenet = backend_get(model_version=imagenet)
    clip = backend_get(model_version=zero_shot)

    assert mobilenet.weights_path == tmp_path / "weights" / "mobilenet_v2-7ebf99e0.pth"
    assert (mobilenet.dim, len(mobilenet.class_names)) == (1000, 1000)
    assert mobilenet.class_names[281] == "tabby"
    assert clip.weights_path == tmp_path / "weights" / "ViT-B-32-tiny_random.bin"
    assert clip.dim == 64
    assert clip.logit_scale == pytest.approx(1 / 0.07, rel=1e-6)
    assert backend_get(model_version=imagenet) is mobilenet  # loaded once per process


def test_loading_records_the_weights_sha_on_the_version(db, inference_weights):
    version = model_version_active(kind="zero_shot")
    ModelVersion.objects.filter(pk=version.pk).update(weights_sha256="")
    version.refresh_from_db()
    data = encode(gradient())
    list(classify(model_version=version, inputs=[image_input("a", data)], labels=["x"], top_k=1))
    version.refresh_from_db()
    assert version.weights_sha256 == backend_get(model_version=version).weights_sha256
    assert version.logit_scale == pytest.approx(1 / 0.07, rel=1e-6)


@pytest.mark.parametrize(
    ("architecture", "file_name"),
    [
        ("mobilenet_v2", "mobilenet_v2-7ebf99e0.pth"),
        ("open_clip", "ViT-B-32_laion2b_s34b_b79k.bin"),
    ],
)
def test_offline_without_weights_fails_within_seconds_naming_the_file(
    db, settings, tmp_path, architecture, file_name
):
    settings.WEIGHTS_DIR = tmp_path / "weights"
    settings.MODEL_CACHE_DIR = tmp_path / "cache"
    settings.WEIGHTS_DOWNLOAD = False  # what HF_HUB_OFFLINE=1 sets by default
    settings.CLIP_MODEL, settings.CLIP_PRETRAINED = "ViT-B-32", "laion2b_s34b_b79k"
    settings.CLIP_MODEL_CONFIG = ""
    spec = spec_build(architecture=architecture)
    version = ModelVersion.objects.create(
        name=spec.name,
        kind=spec.kind,
        architecture=architecture,
        config=spec.config,
        weights_source=spec.weights_source(),
    )
    started = time.monotonic()
    with pytest.raises(WeightsMissing) as excinfo:
        list(
            classify(
                model_version=version, inputs=[image_input("a", b"x")], labels=["cat"], top_k=1
            )
        )
    assert time.monotonic() - started < 10
    assert f"at {tmp_path / 'weights' / file_name} (WEIGHTS_DIR={tmp_path / 'weights'})" in str(
        excinfo.value
    )


def test_unreachable_weights_host_fails_fast_with_downloads_on(db, settings, tmp_path):
    settings.WEIGHTS_DIR = tmp_path / "weights"
    settings.MODEL_CACHE_DIR = tmp_path / "cache"
    settings.WEIGHTS_DOWNLOAD = True
    settings.WEIGHTS_DOWNLOAD_TIMEOUT = 2.0
    from inference.backends.weights import weights_fetch

    spec = spec_build(architecture="mobilenet_v2")
    object.__setattr__(spec, "download_source", "https://weights.invalid/mobilenet_v2.pth")
    started = time.monotonic()
    with pytest.raises(WeightsMissing) as excinfo:
        weights_fetch(spec)
    assert time.monotonic() - started < 10
    assert str(excinfo.value).startswith("Could not reach weights.invalid within 2 s")
    assert f"at {tmp_path / 'weights' / 'mobilenet_v2-7ebf99e0.pth'}" in str(excinfo.value)
