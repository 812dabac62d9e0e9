"""OpenCLIP zero-shot backend: image embeddings and prompt-ensemble text embeddings."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from django.conf import settings

from inference.backends.common import torch_setup
from inference.backends.engines import (
    Runner,
    fp32_onnx_path,
    int8_runner_build,
    runner_build,
)
from inference.backends.preprocess import preprocess_image, preprocess_pil
from inference.backends.weights import weights_load_path
from inference.prompts import BUILTIN_TEMPLATE_SETS, templates_custom
from inference.registry import ModelSpec, WeightsCheck, engine_cache_dir

logger = logging.getLogger(__name__)

TEXT_BATCH = 256
TEXT_LENGTHS = (16, 32)  # exported text-tower lengths below the full context (77)
# int8 is used only when, on GATE_PHOTOS natural photos scored against the 1000 ImageNet
# class prompts, it keeps fp32's top-1 on at least this share and moves the top-1
# probability by at most this much on average.
INT8_MIN_AGREEMENT = 0.99
INT8_MAX_MEAN_SCORE_DIFF = 0.02
GATE_PHOTOS = 320
GATE_FORMAT = "v1"


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
    if not text_trimmable(model):
        return model.encode_text(tokens)
    # The end-of-text token has the highest id (the argmax pooling relies on that too); the
    # furthest one in the batch bounds the positions that matter. (Counting non-zero ids
    # would not do: 0 is both the padding and a real token, "!".)
    length = int(tokens.argmax(dim=1).max().item()) + 1
    return encode_text_prefix(model, tokens[:, :length])


def text_trimmable(model: Any) -> bool:
    return not (
        getattr(model, "attn_mask", None) is None
        or getattr(model, "text_pool_type", None) != "argmax"
        or not hasattr(model, "token_embedding")
    )


def encode_text_prefix(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """CLIP's text features for prompts already cut to their used positions (the sequence
    length is the tensor's, so an ONNX export keeps it dynamic)."""
    from open_clip.transformer import text_global_pool

    length = tokens.shape[1]
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


def int8_gate_decide(measured: dict[str, Any]) -> dict[str, Any]:
    """The measured agreement (cached per weights) judged against today's thresholds."""
    passed = (
        "top1_agreement" in measured
        and measured["top1_agreement"] >= INT8_MIN_AGREEMENT
        and measured["mean_score_diff"] <= INT8_MAX_MEAN_SCORE_DIFF
    )
    return {
        **measured,
        "passed": bool(passed),
        "thresholds": {
            "top1_agreement": INT8_MIN_AGREEMENT,
            "mean_score_diff": INT8_MAX_MEAN_SCORE_DIFF,
        },
    }


def clip_published_sha256(model_name: str, pretrained: str) -> str:
    """open_clip publishes a checksum only inside some download URLs (OpenAI's files carry
    the full sha256 as a path segment); its Hugging Face-hosted tags have none."""
    import open_clip

    url = (open_clip.get_pretrained_cfg(model_name, pretrained) or {}).get("url", "")
    found = re.search(r"/([0-9a-f]{64})/", url)
    return found.group(1) if found else ""


def _model_config_register(config_file: str) -> None:
    if config_file:
        import open_clip

        open_clip.add_model_config(Path(config_file))


class _TextTower(torch.nn.Module):
    """The text half of CLIP as one module (what the engines export and run)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self.trimmed = text_trimmable(model)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.trimmed:
            return encode_text_prefix(self.model, tokens)
        return self.model.encode_text(tokens)


class ClipBackend:
    kind = "zero_shot"
    class_names: list[str] = []

    def __init__(
        self,
        *,
        spec: ModelSpec,
        model: Any,
        tokenizer: Any,
        weights_path: Path,
        check: WeightsCheck,
    ) -> None:
        self.spec = spec
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.weights_path = weights_path
        self.weights_sha256 = check.sha256
        self.weights_verified = check.verified
        self.logit_scale = float(model.logit_scale.exp().item())
        pp = model.visual.preprocess_cfg
        size = pp["size"] if isinstance(pp["size"], int) else pp["size"][0]
        self.preprocessing: dict[str, Any] = {
            "resize": int(size),
            "crop": int(size),
            "interpolation": pp["interpolation"],
            "mean": list(pp["mean"]),
            "std": list(pp["std"]),
            "decode": "exact" if settings.INFERENCE_EXACT_PREPROCESSING else "draft",
        }
        self.size = int(size)
        with torch.inference_mode():
            probe = model.encode_image(torch.zeros(1, 3, size, size))
        self.dim = int(probe.shape[-1])
        self.images_forwarded = 0
        self.texts_forwarded = 0
        self._lock = threading.Lock()
        tuning = spec.tuning.resolved()
        self.directory = engine_cache_dir(spec, check.sha256)
        engine = settings.INFERENCE_ENGINE
        self.image_fp32 = runner_build(
            engine=engine,
            module=model.visual,
            example=torch.zeros(1, 3, size, size),
            directory=self.directory,
            part="image",
            threads=tuning.threads,
        )
        self.engine_name = engine
        self.threads = tuning.threads
        self._text_runners: dict[int, Runner] = {}
        self.image_runner: Runner = self.image_fp32
        self.int8_gate: dict[str, Any] = {}
        if engine != "torch" and settings.INFERENCE_PRECISION == "auto":
            int8 = int8_runner_build(
                fp32_onnx_path(self.directory, "image"), threads=tuning.threads
            )
            self.int8_gate = int8_gate_decide(self._int8_gate(int8))
            if self.int8_gate["passed"]:
                self.image_runner = int8
        self.engine = self.image_runner.engine
        self.precision = self.image_runner.precision

    def preprocess(self, fh: BinaryIO) -> np.ndarray:
        return preprocess_image(fh, cfg=self.preprocessing)

    def _image_features(self, runner: Runner, batch: np.ndarray) -> np.ndarray:
        features = np.asarray(runner(np.ascontiguousarray(batch, dtype=np.float32)), np.float32)
        return features / np.linalg.norm(features, axis=1, keepdims=True)

    def embed_images(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            features = self._image_features(self.image_runner, batch)
            self.images_forwarded += len(batch)
        return features

    def _text_runner(self, length: int) -> Runner:
        """The text tower exported for ``length`` token positions (built on first use).

        The traced export fixes the sequence length (the attention reshapes bake it in), so
        prompts are padded to the next of TEXT_LENGTHS: positions after the end-of-text
        token never influence a causal, end-of-text-pooled CLIP text tower.
        """
        if length not in self._text_runners:
            self._text_runners[length] = runner_build(
                engine=self.engine_name,
                module=_TextTower(self.model),
                example=self.tokenizer(["a photo of a cat."])[:, :length],
                directory=self.directory,
                part=f"text{length}",
                threads=self.threads,
                input_name="tokens",
                dynamic_axes={"tokens": {0: "batch"}, "output": {0: "batch"}},
            )
        return self._text_runners[length]

    def _encode_prompts(self, prompts: list[str]) -> np.ndarray:
        chunks = []
        for start in range(0, len(prompts), TEXT_BATCH):
            tokens = self.tokenizer(prompts[start : start + TEXT_BATCH])
            if self.engine_name == "torch":
                with torch.inference_mode():
                    features = encode_text_trimmed(self.model, tokens).float().numpy()
            else:
                length = tokens.shape[1]
                if text_trimmable(self.model):
                    used = int(tokens.argmax(dim=1).max().item()) + 1
                    length = next((n for n in TEXT_LENGTHS if n >= used), length)
                runner = self._text_runner(min(length, tokens.shape[1]))
                features = np.asarray(runner(tokens[:, :length].numpy().astype(np.int64)))
            chunks.append(features / np.linalg.norm(features, axis=1, keepdims=True))
        return np.concatenate(chunks).astype(np.float32)

    def embed_texts(self, labels: list[str], *, templates: str) -> np.ndarray:
        """Per label: encode every template's prompt, normalise, average, normalise again."""
        prompts_per_label = templates_resolve(templates)
        prompts = [t.format(label) for label in labels for t in prompts_per_label]
        with self._lock:
            per_prompt = self._encode_prompts(prompts).reshape(
                len(labels), len(prompts_per_label), -1
            )
            self.texts_forwarded += len(prompts)
        mean = per_prompt.mean(axis=1)
        return (mean / np.linalg.norm(mean, axis=1, keepdims=True)).astype(np.float32)

    def _int8_gate(self, int8: Runner) -> dict[str, Any]:
        """Top-1 agreement of int8 with fp32 on natural photos; computed once per weights."""
        record = self.directory / f"int8-gate-{GATE_FORMAT}.json"
        if record.is_file():
            return json.loads(record.read_text())
        from inference.backends.imagenet import imagenet_class_names
        from inference.backends.photos import natural_photos

        photos = natural_photos(GATE_PHOTOS, min_side=self.size)
        result: dict[str, Any]
        if not photos:
            result = {"reason": "no natural photos installed (scikit-image)"}
        else:
            batch = np.stack([preprocess_pil(p, cfg=self.preprocessing) for p in photos])
            text = self._encode_prompts([f"a photo of a {c}." for c in imagenet_class_names()])
            fp32 = np.concatenate(
                [
                    self._image_features(self.image_fp32, batch[i : i + 16])
                    for i in range(0, len(batch), 16)
                ]
            )
            q = np.concatenate(
                [self._image_features(int8, batch[i : i + 16]) for i in range(0, len(batch), 16)]
            )

            def probabilities(features: np.ndarray) -> np.ndarray:
                logits = self.logit_scale * features.astype(np.float64) @ text.T
                logits -= logits.max(axis=1, keepdims=True)
                exp = np.exp(logits)
                return exp / exp.sum(axis=1, keepdims=True)

            p32, p8 = probabilities(fp32), probabilities(q)
            top = p32.argmax(axis=1)
            rows = np.arange(len(top))
            agreement = float((p8.argmax(axis=1) == top).mean())
            score_diff = float(np.abs(p32[rows, top] - p8[rows, top]).mean())
            result = {
                "top1_agreement": round(agreement, 4),
                "mean_score_diff": round(score_diff, 5),
                "min_cosine": round(float((fp32 * q).sum(axis=1).min()), 5),
                "photos": len(photos),
                "labels": "imagenet-1k, 'a photo of a {}.'",
            }
        logger.info("int8 gate for %s: %s", self.spec.name, result)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(result))
        return result


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
    if not spec.published_sha256:
        spec = dataclasses.replace(
            spec, published_sha256=clip_published_sha256(model_name, pretrained)
        )
    path, check = weights_load_path(spec)
    torch_setup(spec.tuning.resolved().threads)
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
        spec=spec,
        model=model,
        tokenizer=open_clip.get_tokenizer(model_name),
        weights_path=path,
        check=check,
    )
