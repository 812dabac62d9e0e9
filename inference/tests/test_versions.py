import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from inference.errors import WeightsMissing
from inference.models import ModelVersion
from inference.registry import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD
from inference.services import model_version_activate, model_version_active

ROOT = Path(__file__).resolve().parents[2]


def test_active_imagenet_version_is_created_from_settings(db, inference_weights):
    version = model_version_active(kind="imagenet")
    weights = Path(inference_weights["WEIGHTS_DIR"]) / "mobilenet_v2-7ebf99e0.pth"
    assert version.name == "mobilenet_v2/imagenet1k_v2"
    assert version.kind == ModelVersion.Kind.IMAGENET
    assert version.architecture == "mobilenet_v2"
    assert version.weights_source == f"file:{weights}"
    assert version.weights_sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert version.preprocessing == {
        "resize": 232,
        "crop": 224,
        "interpolation": "bilinear",
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
    }
    assert version.is_active is True
    assert model_version_active(kind="imagenet").pk == version.pk
    assert ModelVersion.objects.count() == 1


def test_active_zero_shot_version_records_model_tag_and_templates(db, inference_weights):
    version = model_version_active(kind="zero_shot")
    assert version.name == "open_clip/ViT-B-32-tiny/random"
    assert version.config == {
        "model_name": "ViT-B-32-tiny",
        "pretrained": "random",
        "model_config": inference_weights["CLIP_MODEL_CONFIG"],
    }
    assert version.prompt_templates == "openai_imagenet"
    assert version.preprocessing == {
        "resize": 224,
        "crop": 224,
        "interpolation": "bicubic",
        "mean": CLIP_MEAN,
        "std": CLIP_STD,
    }


def test_offline_without_mobilenet_weights_the_efficientnet_fallback_is_active(
    db, settings, tmp_path
):
    settings.WEIGHTS_DIR = tmp_path / "empty"
    settings.MODEL_CACHE_DIR = tmp_path / "cache"
    settings.WEIGHTS_DOWNLOAD = False
    version = model_version_active(kind="imagenet")
    assert version.name == "efficientnet_lite0/tf_in1k"
    assert version.weights_source.endswith("efficientnet-lite0-57934424.pth")
    assert version.preprocessing["mean"] == [0.5, 0.5, 0.5]


def test_switching_the_model_moves_the_active_flag(db, settings, inference_weights):
    mobilenet = model_version_active(kind="imagenet")
    settings.IMAGENET_MODEL = "efficientnet_lite0"
    efficientnet = model_version_active(kind="imagenet")
    mobilenet.refresh_from_db()
    assert (mobilenet.is_active, efficientnet.is_active) == (False, True)
    model_version_activate(model_version=mobilenet)
    assert list(ModelVersion.objects.filter(is_active=True).values_list("name", flat=True)) == [
        "mobilenet_v2/imagenet1k_v2"
    ]


def test_no_usable_imagenet_model_names_the_file(db, settings, tmp_path):
    settings.WEIGHTS_DIR = tmp_path
    settings.WEIGHTS_DOWNLOAD = False
    settings.IMAGENET_FALLBACK_MODEL = ""
    with pytest.raises(WeightsMissing) as excinfo:
        model_version_active(kind="imagenet")
    assert "put mobilenet_v2-7ebf99e0.pth (from https://download.pytorch.org/models/" in str(
        excinfo.value
    )
    assert f"at {tmp_path / 'mobilenet_v2-7ebf99e0.pth'}" in str(excinfo.value)
    assert ModelVersion.objects.count() == 0


def test_command_refreshes_versions_and_lists_weights(db, inference_weights, capsys):
    call_command("inference_models", "--refresh")
    out = capsys.readouterr().out
    assert sorted(ModelVersion.objects.values_list("name", "is_active")) == [
        ("efficientnet_lite0/tf_in1k", False),
        ("mobilenet_v2/imagenet1k_v2", True),
        ("open_clip/ViT-B-32-tiny/random", True),
    ]
    weights_dir = inference_weights["WEIGHTS_DIR"]
    assert f"present: {weights_dir}/mobilenet_v2-7ebf99e0.pth" in out
    assert f"present: {weights_dir}/ViT-B-32-tiny_random.bin" in out


def test_command_fetch_offline_fails_naming_the_file(db, settings, tmp_path):
    from django.core.management.base import CommandError

    settings.WEIGHTS_DIR = tmp_path
    settings.WEIGHTS_DOWNLOAD = False
    with pytest.raises(
        CommandError, match="Could not fetch weights for mobilenet_v2/imagenet1k_v2"
    ):
        call_command("inference_models", "--fetch", "mobilenet_v2")


def test_web_side_modules_do_not_import_torch():
    code = (
        "import sys, django; django.setup();"
        "import inference.services, inference.selectors, inference.registry, inference.admin,"
        " inference.labels, inference.models, inference.prompts;"
        "from inference.services import model_version_active;"
        # numpy is allowed (the web process scores stored vectors); model runtimes are not.
        "print(sorted(m for m in ('torch', 'torchvision', 'open_clip', 'timm', 'onnxruntime',"
        " 'openvino') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "classifier_site.settings"},
    )
    assert result.stdout.strip() == "[]"
