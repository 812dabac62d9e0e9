"""Issue 15 benchmark: preview latency, and search by meaning brute force vs an index.

    PYTHONPATH=. .venv/bin/python bench/features.py   # fresh PostgreSQL db, dropped after

1. Preview of a zero-shot job over 10 000 images from stored 512-d embeddings (ViT-B-32's
   width), 10 labels, against each image's latest result; baseline in the same run:
   reading the 10 000 Image rows alone, and reading their vectors alone.
2. Search: ranking N stored vectors against a query, numpy brute force (images.search.rank)
   vs a usearch HNSW index (build time, query time, recall@48 against brute force), and
   loading the N vectors from PostgreSQL (what a brute-force search pays per query today),
   at N = 1 000 / 10 000 / 100 000.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# One BLAS thread: a query is one matrix-vector product, and the web process serves
# requests in parallel (threads only add wake-up cost on a busy machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIM = 512
SIZES = [1_000, 10_000, 100_000]
K = 48


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), value


def unit(rng, n: int, clusters: int = 0):
    """Unit vectors; with ``clusters``, grouped around that many centres as photo
    embeddings are (isotropic random vectors are the worst case for a graph index)."""
    import numpy as np

    x = rng.standard_normal((n, DIM)).astype("float32")
    if clusters:
        centres = rng.standard_normal((clusters, DIM)).astype("float32") * 2.5
        x = centres[rng.integers(0, clusters, n)] + x
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def setup_data(n: int, rng):
    from classifier_site.accounts.models import User
    from images.models import Image
    from inference.models import ImageEmbedding, ModelVersion, TextEmbedding

    user = User.objects.create(username=f"bench-{uuid.uuid4().hex[:6]}")
    version, _ = ModelVersion.objects.get_or_create(
        name="bench/clip-512",
        defaults=dict(
            kind="zero_shot",
            architecture="open_clip",
            weights_source="bench",
            prompt_templates="single",
            logit_scale=100.0,
            is_active=True,
        ),
    )
    vecs = unit(rng, n, clusters=200)
    images = [
        Image(
            owner=user,
            file=f"uploads/b/{i}.jpg",
            original_filename=f"p{i}.jpg",
            format="JPEG",
            mime_type="image/jpeg",
            size_bytes=1000,
            width=10,
            height=10,
            sha256=uuid.uuid4().hex + uuid.uuid4().hex,
        )
        for i in range(n)
    ]
    Image.objects.bulk_create(images, batch_size=5000)
    ImageEmbedding.objects.bulk_create(
        (
            ImageEmbedding(
                content_hash=img.sha256, model_version=version, dim=DIM, vector=v.tobytes()
            )
            for img, v in zip(images, vecs, strict=True)
        ),
        batch_size=2000,
    )
    labels = [f"label {i}" for i in range(10)]
    for label, v in zip(labels, unit(rng, len(labels)), strict=True):
        TextEmbedding.objects.get_or_create(
            model_version=version,
            label=label,
            template_set="single",
            defaults={"dim": DIM, "vector": v.tobytes()},
        )
    return user, version, images, labels


def bench_preview(rng) -> None:
    from django.utils import timezone

    from images.models import Image
    from inference import vectors
    from jobs.models import ItemStatus, Job, JobImage
    from jobs.preview import job_preview
    from jobs.services import JobRequest

    n = 10_000
    user, version, images, labels = setup_data(n, rng)
    job = Job.objects.create(
        owner=user,
        job_type="custom_classification",
        model_version=version,
        labels=labels,
        status="completed",
        total=n,
    )
    now = timezone.now()
    JobImage.objects.bulk_create(
        (
            JobImage(
                job=job,
                image=img,
                position=i,
                content_hash=img.sha256,
                filename="x",
                status=ItemStatus.CLASSIFIED,
                top_label=labels[i % 10],
                top_score=0.5,
                completed_at=now,
            )
            for i, img in enumerate(images)
        ),
        batch_size=5000,
    )
    request = JobRequest(
        job_type="custom_classification",
        image_ids=[i.id for i in images],
        custom_labels=labels[:8],
        confidence_threshold=0.15,
        model_version_id=version.pk,
    )
    rows_ms, _ = timed(
        lambda: list(Image.objects.filter(owner=user).values_list("id", "sha256")), 5
    )
    vec_ms, _ = timed(
        lambda: vectors.image_vectors_stored(
            model_version=version, content_hashes=[i.sha256 for i in images]
        ),
        5,
    )
    preview_ms, result = timed(lambda: job_preview(owner=user, request=request), 5)
    print(f"\n== Preview, {n} images, 512-d, 8 of 10 labels, threshold 0.15 (median of 5)")
    print(f"baseline: read {n} Image rows        {rows_ms:8.1f} ms")
    print(f"baseline: read their {n} vectors     {vec_ms:8.1f} ms")
    print(
        f"preview (validate + read + score)    {preview_ms:8.1f} ms  "
        f"= {preview_ms / rows_ms:.1f}x the row read, {preview_ms / vec_ms:.1f}x the vector read"
    )
    print(f"  -> {result.changed} would change, {result.unchanged} keep, ready={result.ready}")


def bench_search(rng) -> None:
    import numpy as np
    from usearch.index import Index

    from images.search import rank
    from inference import vectors

    print("\n== Search: one query over N vectors (median of 30 queries), top 48")
    print(
        f"{'N':>8} {'db load ms':>11} {'brute ms':>9} {'index build s':>14} "
        f"{'index ms':>9} {'recall@48':>10}"
    )
    for n in SIZES:
        user, version, images, _ = setup_data(n, rng)
        load_ms, stored = timed(
            lambda images=images, version=version: vectors.image_vectors_stored(
                model_version=version, content_hashes=[i.sha256 for i in images]
            ),
            3,
        )
        matrix = np.stack(list(stored.values()))
        # Queries near the photos (a text that describes some of them), not random.
        near = matrix[rng.integers(0, n, 30)] + 0.05 * rng.standard_normal((30, DIM))
        queries = (near / np.linalg.norm(near, axis=1, keepdims=True)).astype("float32")
        brute = [timed(lambda q=q, m=matrix: rank(m, q, K), 1) for q in queries]
        brute_ms = statistics.median(t for t, _ in brute)
        started = time.perf_counter()
        index = Index(
            ndim=DIM,
            metric="cos",
            dtype="f32",
            connectivity=16,
            expansion_add=128,
            expansion_search=64,
        )
        index.add(np.arange(n), matrix)
        build_s = time.perf_counter() - started
        found = [timed(lambda q=q, ix=index: ix.search(q, K), 1) for q in queries]
        index_ms = statistics.median(t for t, _ in found)
        recall = statistics.mean(
            len(set(b[1][0].tolist()) & set(f[1].keys.tolist())) / K
            for b, f in zip(brute, found, strict=True)
        )
        print(
            f"{n:>8} {load_ms:>11.1f} {brute_ms:>9.2f} {build_s:>14.2f} {index_ms:>9.3f} "
            f"{recall:>10.3f}"
        )
        from images.models import Image

        Image.objects.filter(owner=user).delete()


def main() -> None:
    import numpy as np
    import psycopg

    name = f"bench_features_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    tmp = Path(tempfile.mkdtemp(prefix="bench-features-"))
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "EMBEDDED": "1",
            "DATA_DIR": str(tmp),
            "LOG_LEVEL": "WARNING",
            "INPROCESS_WORKER": "0",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "classifier_site.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        rng = np.random.default_rng(0)
        bench_preview(rng)
        bench_search(rng)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
