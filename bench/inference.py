"""Inference benchmark: `.venv/bin/python bench/inference.py [--quick]`.

For each model (MobileNetV2, EfficientNet-Lite0, OpenCLIP ViT-B-32) it prints
- raw forward throughput on preprocessed tensors, by batch size;
- full pipeline throughput: JPEG files on disk -> decode/preprocess -> forward -> stored
  vectors and predictions (inference.services.classify), and its ratio to raw;
- re-classification of 10 000 already-embedded images (new labels / another top-k);
- decode + preprocess time per 12 MP JPEG (with and without JPEG draft mode).

Runs against a throwaway SQLite database (or BENCH_DATABASE_URL). Real weights are used
when present (WEIGHTS_DIR / MODEL_CACHE_DIR); otherwise random weights of the same full
architectures, which cost the same to run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def django_setup(tmp: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "classifier_site.settings")
    os.environ["DATA_DIR"] = str(tmp / "data")
    os.environ.pop("DATABASE_URL", None)
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    os.environ.setdefault("EMBEDDED", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["INPROCESS_WORKER"] = "0"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(fn, *, min_seconds: float, min_reps: int = 2) -> float:
    """Seconds per call, averaged over enough calls to fill min_seconds (after a warm-up)."""
    fn()
    reps, started = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - started < min_seconds:
        fn()
        reps += 1
    return (time.perf_counter() - started) / reps


def photo_jpegs(directory: Path, count: int, size: tuple[int, int]) -> list[Path]:
    import numpy as np
    from PIL import Image
    from skimage import data

    sources = [data.chelsea(), data.coffee(), data.rocket(), data.astronaut()]
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        img = Image.fromarray(sources[i % len(sources)]).resize(size)
        # A little noise makes every file (and its content hash) distinct.
        noise = np.random.default_rng(i).integers(0, 4, (size[1], size[0], 3), dtype=np.uint8)
        img = Image.fromarray(np.asarray(img) + noise)
        path = directory / f"photo-{i:04d}.jpg"
        img.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def file_inputs(paths: list[Path]):
    from inference.types import ImageInput

    return [
        ImageInput(
            key=p.name,
            content_hash=hashlib.sha256(p.read_bytes()).hexdigest(),
            open=lambda p=p: p.open("rb"),
        )
        for p in paths
    ]


def weights_prepare(tmp: Path) -> dict[str, str]:
    """Settings for the benchmark models: real weights when present, else random ones."""
    from django.conf import settings

    from inference.registry import spec_build

    notes = {}
    if spec_build(architecture="mobilenet_v2").weights_file() is None or (
        spec_build(architecture="open_clip").weights_file() is None
    ):
        import open_clip

        from inference.testing import weights_settings, write_test_weights

        full = open_clip.get_model_config(settings.CLIP_MODEL) or open_clip.get_model_config(
            "ViT-B-32"
        )
        env = write_test_weights(
            tmp / "weights", clip_config=full, clip_model=f"{settings.CLIP_MODEL}-random"
        )
        mobilenet_real = spec_build(architecture="mobilenet_v2").weights_file()
        clip_real = spec_build(architecture="open_clip").weights_file()
        values = weights_settings(env)
        if mobilenet_real is not None:  # keep the real one, only CLIP is random
            values["WEIGHTS_DIR"] = mobilenet_real.parent
        if clip_real is None:
            for name in (
                "CLIP_MODEL",
                "CLIP_PRETRAINED",
                "CLIP_MODEL_CONFIG",
                "WEIGHTS_DIR",
                "MODEL_CACHE_DIR",
            ):
                setattr(settings, name, values[name])
            notes["open_clip"] = "random weights (same architecture)"
        if mobilenet_real is None:
            settings.WEIGHTS_DIR = values["WEIGHTS_DIR"]
            notes["mobilenet_v2"] = "random weights (same architecture)"
    return notes


def bench_model(architecture: str, *, tmp: Path, quick: bool, note: str) -> dict:
    import numpy as np
    from django.conf import settings

    from inference.models import ImageEmbedding, ModelVersion
    from inference.registry import backend_get, spec_build
    from inference.services import _to_bytes, classify, model_version_upsert

    spec = spec_build(architecture=architecture)
    version = model_version_upsert(spec=spec, activate=False)
    started = time.perf_counter()
    backend = backend_get(model_version=version)
    load_s = time.perf_counter() - started
    zero_shot = version.kind == ModelVersion.Kind.ZERO_SHOT
    labels = ["cat", "coffee", "rocket", "person", "dog"] if zero_shot else None
    print(f"\n== {spec.name} ({note or 'real weights'}; loaded in {load_s:.1f} s)")

    size = backend.preprocessing["crop"]
    min_s = 0.5 if quick else 1.5
    raw = {}
    for batch_size in (1, 8, 16, 32):
        batch = (
            np.random.default_rng(0).standard_normal((batch_size, 3, size, size)).astype(np.float32)
        )
        seconds = timed(lambda batch=batch: backend.embed_images(batch), min_seconds=min_s)
        raw[batch_size] = batch_size / seconds
    print("raw forward (images/s):  " + "  ".join(f"bs={b}: {v:6.1f}" for b, v in raw.items()))

    batch_size = settings.INFERENCE_BATCH_SIZE
    count = 32 if quick else 96
    paths = photo_jpegs(tmp / "photos", count, (1600, 1200))
    inputs = file_inputs(paths)
    list(classify(model_version=version, inputs=inputs[:batch_size], labels=labels, top_k=5))
    ImageEmbedding.objects.filter(model_version=version).delete()
    started = time.perf_counter()
    outcomes = [
        o for b in classify(model_version=version, inputs=inputs, labels=labels, top_k=5) for o in b
    ]
    pipeline = count / (time.perf_counter() - started)
    assert not any(o.error for o in outcomes)
    # Raw again right after, on the same (possibly shared) CPUs: the ratio compares the
    # pipeline with the mean of the raw figures measured around it.
    batch = np.random.default_rng(0).standard_normal((batch_size, 3, size, size)).astype(np.float32)
    raw_after = batch_size / timed(lambda: backend.embed_images(batch), min_seconds=min_s)
    raw_around = (raw[batch_size] + raw_after) / 2
    ratio = pipeline / raw_around
    print(
        f"pipeline, {count} JPEGs 1600x1200 from disk, bs={batch_size}: {pipeline:6.1f} "
        f"images/s = {ratio:.2f} x raw at bs={batch_size} ({raw_around:.1f} images/s, "
        "mean of before/after)"
    )

    # 10 000 embedded images: stored vectors, then classified with new labels / top-k.
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((10_000, backend.dim)).astype(np.float32)
    if zero_shot:
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    hashes = [hashlib.sha256(f"bench-{i}".encode()).hexdigest() for i in range(10_000)]
    ImageEmbedding.objects.bulk_create(
        [
            ImageEmbedding(
                content_hash=h, model_version=version, dim=backend.dim, vector=_to_bytes(v)
            )
            for h, v in zip(hashes, vectors, strict=True)
        ],
        batch_size=2000,
    )
    from inference.types import ImageInput

    def never_opened():
        raise AssertionError("an embedded image was decoded")

    embedded = [ImageInput(key=h[:8], content_hash=h, open=never_opened) for h in hashes]
    forwarded = backend.images_forwarded
    new_labels = ["tabby cat", "espresso", "space rocket", "astronaut", "golden retriever"]
    started = time.perf_counter()
    n = sum(
        len(b)
        for b in classify(
            model_version=version,
            inputs=embedded,
            labels=new_labels if zero_shot else None,
            top_k=3,
        )
    )
    first = time.perf_counter() - started
    started = time.perf_counter()
    sum(
        len(b)
        for b in classify(
            model_version=version,
            inputs=embedded,
            labels=new_labels if zero_shot else None,
            top_k=2,
        )
    )
    again = time.perf_counter() - started
    assert n == 10_000 and backend.images_forwarded == forwarded
    if zero_shot:
        print(
            f"re-classify 10 000 embedded images, 5 new labels: {first:.2f} s including "
            f"text encoding ({len(new_labels)} labels x templates), {again:.2f} s with "
            "text embeddings cached"
        )
    else:
        print(
            f"re-classify 10 000 embedded images (stored logits), new top-k: {first:.2f} s, "
            f"again: {again:.2f} s"
        )

    big = tmp / "12mp.jpg"
    if not big.exists():
        from PIL import Image
        from skimage import data

        Image.fromarray(data.chelsea()).resize((4000, 3000)).save(big, "JPEG", quality=90)
    raw_bytes = big.read_bytes()
    per_image = timed(lambda: backend.preprocess(io.BytesIO(raw_bytes)), min_seconds=min_s)
    from inference.backends import preprocess as pp

    def no_draft():
        from PIL import Image

        img = Image.open(io.BytesIO(raw_bytes))
        img.load()
        img = pp.to_rgb(img)
        w, h = pp.resized_size(*img.size, backend.preprocessing["resize"])
        img.resize((w, h), Image.Resampling.BICUBIC)

    full = timed(no_draft, min_seconds=min_s)
    print(
        f"decode+preprocess one 12 MP JPEG: {per_image * 1000:.1f} ms "
        f"(full-size decode+resize without draft mode: {full * 1000:.0f} ms)"
    )
    return {
        "raw": raw,
        "pipeline": pipeline,
        "ratio": ratio,
        "reclassify": (first, again),
        "decode_ms": per_image * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images, shorter timings")
    parser.add_argument("--models", default="mobilenet_v2,efficientnet_lite0,open_clip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as name:
        tmp = Path(name)
        django_setup(tmp)
        import torch
        from django.conf import settings

        from inference.backends.common import torch_setup

        torch_setup()
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{os.cpu_count()} CPUs, batch size {settings.INFERENCE_BATCH_SIZE}, "
            f"decode threads {settings.INFERENCE_DECODE_THREADS}"
        )
        notes = weights_prepare(tmp)
        started = time.perf_counter()
        for architecture in args.models.split(","):
            bench_model(architecture, tmp=tmp, quick=args.quick, note=notes.get(architecture, ""))
        print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
