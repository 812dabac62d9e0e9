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


def encode_text_trimmed(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text`` over only as many positions as the longest prompt uses.

    Tokenizers pad every prompt to the context length (77), but CLIP's text transformer is
    causal and pools the end-of-text token: positions after it never influence the result.
    Prompts are ~10-20 tokens, so this runs the transformer on a fraction of the sequence
    (several times faster on CPU) and gives the same features. Models of another shape
    (bidirectional, class-token pooling, custom text towers) take the plain path.
    """
    from open_clip.transformer import text_global_pool

    plain = (
        getattr(model, "attn_mask", None) is None
        or getattr(model, "text_pool_type", None) != "argmax"
        or not hasattr(model, "token_embedding")
    )
    if plain:
        return model.encode_text(tokens)
    # The end-of-text token has the highest id (the argmax pooling relies on that too); the
    # furthest one in the batch bounds the positions that matter. (Counting non-zero ids
    # would not do: 0 is both the padding and a real token, "!".)
    length = int(tokens.argmax(dim=1).max().item()) + 1
    tokens = tokens[:, :length]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type)
    if model.text_projection is not None:
        if isinstance(model.text_projection, torch.nn.Linear):
            x = model.text_projection(x)
        else:
            x = x @ model.text_projection
    return x


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
                features = encode_text_trimmed(self.model, tokens).float()
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
