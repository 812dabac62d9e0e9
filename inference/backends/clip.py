"""OpenCLIP zero-shot backend: image embeddings and prompt-ensemble text embeddings."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from inference.backends.common import torch_setup
from inference.backends.preprocess import preprocess_image
from inference.backends.weights import weights_fetch
from inference.prompts import BUILTIN_TEMPLATE_SETS, templates_custom
from inference.registry import ModelSpec, file_sha256

TEXT_BATCH = 256


def templates_resolve(value: str) -> list[str]:
    """Template strings with "{}" for a CLIP_TEMPLATES value."""
    value = value.strip()
    if value in BUILTIN_TEMPLATE_SETS:
        if value == "single":
            return ["a photo of a {}."]
        from open_clip.zero_shot_metadata import (
            OPENAI_IMAGENET_TEMPLATES,
            SIMPLE_IMAGENET_TEMPLATES,
        )

        chosen = (
            OPENAI_IMAGENET_TEMPLATES if value == "openai_imagenet" else (SIMPLE_IMAGENET_TEMPLATES)
        )
        return [template("{}") for template in chosen]  # they are lambdas c -> f"...{c}..."
    return templates_custom(value)


def _model_config_register(config_file: str) -> None:
    if config_file:
        import open_clip

        open_clip.add_model_config(Path(config_file))


class ClipBackend:
    kind = "zero_shot"
    class_names: list[str] = []

    def __init__(self, *, spec: ModelSpec, model: Any, tokenizer: Any, weights_path: Path) -> None:
        self.spec = spec
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.weights_path = weights_path
        self.weights_sha256 = file_sha256(weights_path)
        self.logit_scale = float(model.logit_scale.exp().item())
        pp = model.visual.preprocess_cfg
        size = pp["size"] if isinstance(pp["size"], int) else pp["size"][0]
        self.preprocessing: dict[str, Any] = {
            "resize": int(size),
            "crop": int(size),
            "interpolation": pp["interpolation"],
            "mean": list(pp["mean"]),
            "std": list(pp["std"]),
        }
        with torch.inference_mode():
            probe = model.encode_image(torch.zeros(1, 3, size, size))
        self.dim = int(probe.shape[-1])
        self.images_forwarded = 0
        self.texts_forwarded = 0
        self._lock = threading.Lock()

    def preprocess(self, fh: BinaryIO) -> np.ndarray:
        return preprocess_image(fh, cfg=self.preprocessing)

    def embed_images(self, batch: np.ndarray) -> np.ndarray:
        with self._lock, torch.inference_mode():
            features = self.model.encode_image(torch.from_numpy(batch))
            features = torch.nn.functional.normalize(features.float(), dim=-1)
            self.images_forwarded += len(batch)
        return features.numpy()

    def embed_texts(self, labels: list[str], *, templates: str) -> np.ndarray:
        """Per label: encode every template's prompt, normalise, average, normalise again."""
        prompts_per_label = templates_resolve(templates)
        prompts = [t.format(label) for label in labels for t in prompts_per_label]
        chunks = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(prompts), TEXT_BATCH):
                tokens = self.tokenizer(prompts[start : start + TEXT_BATCH])
                features = self.model.encode_text(tokens).float()
                chunks.append(torch.nn.functional.normalize(features, dim=-1))
            self.texts_forwarded += len(prompts)
            per_prompt = torch.cat(chunks).reshape(len(labels), len(prompts_per_label), -1)
            mean = torch.nn.functional.normalize(per_prompt.mean(dim=1), dim=-1)
        return mean.numpy()


def load(*, spec: ModelSpec) -> ClipBackend:
    import open_clip

    _model_config_register(spec.config.get("model_config", ""))
    model_name, pretrained = spec.config["model_name"], spec.config["pretrained"]
    if open_clip.get_model_config(model_name) is None:
        from inference.errors import ModelUnavailable

        raise ModelUnavailable(
            f"open_clip has no model named {model_name!r} (CLIP_MODEL); for a custom model "
            "point CLIP_MODEL_CONFIG at its JSON config."
        )
    path = weights_fetch(spec)
    torch_setup()
    pretrained_cfg = open_clip.get_pretrained_cfg(model_name, pretrained) or {}
    # The tag's own preprocessing (mean/std/interpolation) applies to the file we load.
    preprocess = {
        key: pretrained_cfg[key]
        for key in ("mean", "std", "interpolation", "resize_mode")
        if key in pretrained_cfg
    }
    model = open_clip.create_model(
        model_name,
        pretrained=str(path),
        force_quick_gelu=bool(pretrained_cfg.get("quick_gelu", False)),
        force_preprocess_cfg=preprocess or None,
    )
    return ClipBackend(
        spec=spec, model=model, tokenizer=open_clip.get_tokenizer(model_name), weights_path=path
    )
