"""Jobs benchmark: what the job machinery costs on top of the inference pipeline.

    .venv/bin/python bench/jobs.py     # a fresh PostgreSQL db on 127.0.0.1:5432, dropped after

Prints, for the offline ImageNet model (EfficientNet-Lite0, real weights):
- baseline: ``inference.classify`` over N stored photos (images/s);
- a job over N other photos through ``job_submit`` + ``job_run`` (claims, per-batch result
  and progress writes, heartbeats), images/s and its ratio to the baseline;
- re-running a job over all 2N already-embedded photos with another top-k (no forward pass);
- re-running RERUN_IMAGES (10 000) stored images whose vectors are stored (the rows and
  vectors are made directly: no forward pass is the point), submit and run timed apart.
The worker process and SQS hop are not in these figures: bench/cluster.py (`make bench`
runs both) measures jobs through the production topology (scaling on 1 and 2 workers, job / raw
model, submit requests/s per core, kill -9 recovery).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N = 48  # photos per set
RERUN_IMAGES = int(os.environ.get("BENCH_RERUN_IMAGES", "10000"))
SIZE = (1600, 1200)


def _photos(count: int, offset: int) -> list[bytes]:
    """Distinct JPEGs (different content hashes) made from scikit-image's sample photos."""
    import numpy as np
    from PIL import Image
    from skimage import data

    bases = [data.chelsea(), data.coffee(), data.rocket(), data.astronaut()]
    out = []
    for i in range(count):
        rng = np.random.default_rng(offset + i)
        base = Image.fromarray(bases[i % len(bases)]).resize(SIZE)
        noisy = np.clip(
            np.asarray(base, dtype=np.int16) + rng.integers(-6, 7, (*SIZE[::-1], 3)), 0, 255
        ).astype("uint8")
        buf = io.BytesIO()
        Image.fromarray(noisy).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def main() -> None:
    import psycopg

    name = f"bench_jobs_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "EMBEDDED": "1",
            "DATA_DIR": str(tmp),
            "LOG_LEVEL": "WARNING",
            "INPROCESS_WORKER": "0",
            "HF_HUB_OFFLINE": "1",
            "WEIGHTS_DIR": str(tmp / "no-weights"),  # -> the offline EfficientNet-Lite0
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "classifier_site.settings")
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        run(settings)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(settings) -> None:
    from classifier_site.accounts.models import User
    from images.services import image_ingest, image_open
    from inference.services import classify, model_availability_report, model_version_active
    from inference.types import ImageInput
    from jobs.models import Job
    from jobs.services import job_run, job_submit

    user = User.objects.create_user(username="bench", password="x")
    sets = []
    for offset in (0, 1000, 2000):
        # The warm-up set is one full batch: the first forward pass at a new batch shape
        # pays one-time kernel set-up that must not land in either timing.
        count = (settings.INFERENCE_BATCH_SIZE or 8) if offset == 2000 else N
        sets.append(
            [
                image_ingest(owner=user, fileobj=io.BytesIO(b), filename=f"p{offset + i}.jpg").image
                for i, b in enumerate(_photos(count, offset))
            ]
        )
    baseline_set, job_set, warm_set = sets
    model_availability_report(worker="bench")  # what a worker records at start
    version = model_version_active(kind="imagenet")
    print(
        f"model {version.name}, batch size {settings.INFERENCE_BATCH_SIZE}, {N} photos "
        f"{SIZE[0]}x{SIZE[1]} per set, PostgreSQL, local storage"
    )

    def inputs(images):
        return [
            ImageInput(key=str(i.id), content_hash=i.sha256, open=lambda i=i: image_open(i))
            for i in images
        ]

    for _ in classify(model_version=version, inputs=inputs(warm_set), labels=None, top_k=5):
        pass  # load the model once, outside the timings

    start = time.perf_counter()
    done = sum(
        len(batch)
        for batch in classify(
            model_version=version, inputs=inputs(baseline_set), labels=None, top_k=5
        )
    )
    base_s = time.perf_counter() - start
    base_rate = done / base_s
    print(f"baseline inference.classify:      {base_rate:6.1f} images/s ({base_s:.2f} s)")

    job = job_submit(
        owner=user, job_type="image_classification", image_ids=[i.id for i in job_set], top_k=5
    ).job
    start = time.perf_counter()
    job_run(job_id=job.id)
    job_s = time.perf_counter() - start
    job.refresh_from_db()
    assert (job.status, job.processed) == ("completed", N), (job.status, job.processed)
    job_rate = N / job_s
    print(
        f"job_submit + job_run:             {job_rate:6.1f} images/s ({job_s:.2f} s) "
        f"= {job_rate / base_rate:.2f} x baseline"
    )

    everything = baseline_set + job_set
    again = job_submit(
        owner=user, job_type="image_classification", image_ids=[i.id for i in everything], top_k=3
    ).job
    start = time.perf_counter()
    job_run(job_id=again.id)
    again_s = time.perf_counter() - start
    assert Job.objects.get(pk=again.id).processed == len(everything)
    print(
        f"re-run on {len(everything)} embedded photos, top-3: {again_s * 1000:7.1f} ms "
        f"({len(everything) / again_s:.0f} images/s, no forward pass)"
    )
    rerun_stored(user, version)


def rerun_stored(user, version) -> None:
    """A job over RERUN_IMAGES images whose vectors are already stored."""
    import hashlib

    import numpy as np

    from images.models import Image
    from inference.models import ImageEmbedding
    from jobs.models import Job
    from jobs.services import job_run, job_submit

    rng = np.random.default_rng(0)
    hashes = [hashlib.sha256(f"rerun-{i}".encode()).hexdigest() for i in range(RERUN_IMAGES)]
    Image.objects.bulk_create(
        Image(
            owner=user,
            file=f"uploads/rerun/{h}.jpg",
            original_filename=f"r{i}.jpg",
            format="JPEG",
            mime_type="image/jpeg",
            size_bytes=1000,
            width=320,
            height=240,
            sha256=h,
        )
        for i, h in enumerate(hashes)
    )
    ImageEmbedding.objects.bulk_create(
        ImageEmbedding(
            content_hash=h,
            model_version=version,
            dim=1000,
            vector=rng.standard_normal(1000).astype("<f4").tobytes(),
        )
        for h in hashes
    )
    ids = list(Image.objects.filter(sha256__in=hashes).values_list("id", flat=True))
    start = time.perf_counter()
    job = job_submit(owner=user, job_type="image_classification", image_ids=ids, top_k=5).job
    submit_s = time.perf_counter() - start
    start = time.perf_counter()
    job_run(job_id=job.id)
    run_s = time.perf_counter() - start
    job = Job.objects.get(pk=job.id)
    assert (job.status, job.processed) == ("completed", len(ids)), (job.status, job.processed)
    print(
        f"re-run of {len(ids)} stored images: submit {submit_s:.2f} s + run {run_s:.2f} s "
        f"= {submit_s + run_s:.2f} s (target < 2 s for the run; "
        f"{job.shards.count()} shards) [load avg {os.getloadavg()[0]:.1f}]"
    )


if __name__ == "__main__":
    main()
