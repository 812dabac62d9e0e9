"""Test support: random-weight checkpoints of the real architectures, small and fast.

Used by the tests of every app (through the ``inference_weights`` fixture in the root
conftest) and by the benchmark. Imports torch inside functions only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference.registry import MOBILENET_V2_FILE, file_sha256

TEST_CLIP_MODEL = "ViT-B-32-tiny"
TEST_CLIP_PRETRAINED = "random"
# ViT-B-32's architecture (patch 32, 224 px, CLIP text tower and tokenizer) at tiny width
# and depth: a forward pass costs milliseconds on a CPU.
TEST_CLIP_CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def write_test_weights(
    directory: Path, *, clip_config: dict | None = None, clip_model: str = TEST_CLIP_MODEL
) -> dict[str, str]:
    """Write seeded random weights (torchvision MobileNetV2, a tiny OpenCLIP ViT) and return
    the environment variables that make the real loading code use them.

    The same names are settings: apply them in-process with ``weights_settings`` (which
    converts the types), or pass them as environment to a worker subprocess. Existing
    files are reused, so calling it twice on one folder is cheap.
    """
    from inference.backends.random_weights import clip_write, mobilenet_v2_write

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    mobilenet_v2_write(directory / MOBILENET_V2_FILE)
    config_file = directory / "open_clip" / f"{clip_model}.json"
    clip_weights = directory / f"{clip_model}_{TEST_CLIP_PRETRAINED}.bin"
    clip_write(config_file, clip_weights, clip_config or TEST_CLIP_CONFIG)
    return {
        # Random weights under torchvision's file name are not the published file: they are
        # registered by their own hash, as an operator registers custom weights.
        "WEIGHTS_SHA256": f"mobilenet_v2={file_sha256(directory / MOBILENET_V2_FILE)}",
        "WEIGHTS_DIR": str(directory),
        "MODEL_CACHE_DIR": str(directory / "cache"),
        "IMAGENET_MODEL": "mobilenet_v2",
        "CLIP_MODEL": clip_model,
        "CLIP_PRETRAINED": TEST_CLIP_PRETRAINED,
        "CLIP_MODEL_CONFIG": str(config_file),
        "WEIGHTS_DOWNLOAD": "0",
    }


def weights_settings(env: dict[str, str]) -> dict[str, Any]:
    """The Django settings values for an environment from ``write_test_weights``."""
    values: dict[str, Any] = {}
    for name, value in env.items():
        if name.endswith("_DIR"):
            values[name] = Path(value)
        elif name == "WEIGHTS_DOWNLOAD":
            values[name] = value == "1"
        else:
            values[name] = value
    return values
