"""`make loadtest SCENARIO=...`: the seed's load tests against `make cluster`'s topology.

    .venv/bin/python scripts/loadtest.py sustained|explosion|autoscale|throughput|all \
        [--out docs/loadtest] [--duration 90]

Each scenario starts its own cluster with scripts/cluster.py's machinery (PostgreSQL in a
database of its own that is dropped afterwards, moto's S3+SQS on loopback, gunicorn, bulk
workers, the predict worker, the sweeper; production settings), seeds a user with stored
images, drives it with Locust (headless, loopback, bounded in time), samples the queue
depth, worker count and job states every two seconds, then waits (bounded) for every job
to end and checks in the database that each job is terminal with exactly one result per
image. Results go to <out>/<scenario>/: Locust's CSVs, samples.csv, summary.json and the
PNG graphs (matplotlib).

The models are random-weight checkpoints of the real architectures (MobileNetV2 for
ImageNet, a tiny OpenCLIP ViT for labels), written by inference.testing: no download,
and the forward pass costs what a real MobileNetV2 costs.

Scenarios:
- sustained: API clients submit small jobs and poll their status while others browse
  the gallery (2 workers);
- explosion: a burst of LOAD_BURST_JOBS (200) jobs while API readers and single-image
  predictions measure latency (2 workers);
- autoscale: a backlog of shards with the scaler on (1..4 workers): workers added,
  backlog drained, workers removed;
- throughput: 1, 2 and 4 workers on one big job, then on many small jobs (fresh
  embeddings each run).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import cluster as cluster_mod  # noqa: E402 - scripts/cluster.py, next to this file

PY = sys.executable
SAMPLE_SECONDS = 2.0
TERMINAL = ("completed", "failed", "canceled")
USERNAME, PASSWORD = "load", "load-password-123"


def log(message: str) -> None:
    print(f"[loadtest {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the cluster ---------------------------------------------------------------------------
class LoadCluster:
    """A cluster of its own (database, namespace, run directory), supervised in a thread."""

    def __init__(self, *, workers: int, autoscale: bool = False, env: dict[str, str]) -> None:
        self.db_name = f"loadtest_{uuid.uuid4().hex[:8]}"
        argv = [
            "--workers",
            str(workers),
            "--port",
            "0",
            "--database",
            self.db_name,
            "--namespace",
            f"load{uuid.uuid4().hex[:8]}",
            "--data-dir",
            tempfile.mkdtemp(prefix="loadtest-cluster-"),
            "--static-root",
            str(Path(tempfile.gettempdir()) / "classifier-loadtest-static"),
        ]
        if autoscale:
            argv += [
                "--autoscale",
                "--min-workers",
                "1",
                "--max-workers",
                "4",
                "--backlog-per-worker",
                "2",
                # Shortened from the deployment's so a 3-minute run shows out and in.
                "--scale-out-cooldown",
                "10",
                "--scale-in-cooldown",
                "20",
                "--scale-interval",
                "3",
            ]
        self.args = cluster_mod.parse_args(argv)
        os.environ.update(env)  # the cluster's processes inherit it (model weights, sizes)
        self.cluster = cluster_mod.Cluster(self.args)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LoadCluster:
        try:
            self.cluster.start()
        except BaseException:
            self.__exit__()  # what did start (moto, the database) goes too
            raise
        self._thread = threading.Thread(
            target=self.cluster.supervise, args=(None, self._stop), daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        self.cluster.stop()
        shutil.rmtree(self.args.data_dir, ignore_errors=True)
        from django.db import connections

        connections.close_all()
        import psycopg

        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    @property
    def url(self) -> str:
        return self.cluster.web_url

    def add_workers(self, n: int) -> None:
        for _ in range(n):
            self.cluster._add_worker()

    def queue_depth(self, queue: str = "inference") -> tuple[int, int]:
        import boto3

        sqs = boto3.client(
            "sqs",
            endpoint_url=self.cluster.env["SQS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="cluster",
            aws_secret_access_key="cluster",
        )
        url = sqs.get_queue_url(QueueName=f"{self.args.namespace}_{queue}")["QueueUrl"]
        attrs = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


def django_for(cluster: LoadCluster) -> None:
    """This process talks to the cluster's database and storage with the app's own code
    (one scenario per process: the settings are read once)."""
    env = {k: v for k, v in cluster.cluster.env.items() if k != "WEB_PORT"}
    os.environ.update(env)
    import django

    django.setup()


# --- seeding ---------------------------------------------------------------------------------
def photo(seed: int, size=(320, 240)) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    w, h = size
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    base = rng.random(3)[None, None, :] * 255 * (x + y) / 2
    noise = rng.integers(0, 40, (h, w, 3))
    pixels = np.clip(base + noise, 0, 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def seed(count: int, offset: int = 0, size=(160, 120)) -> tuple[str, list[str]]:
    """The load user, an API token, and ``count`` stored images (S3 on the cluster),
    four uploads at a time. Small files: the model resizes to 224 px whatever the size, so
    a forward pass costs the same, and seeding takes seconds rather than minutes."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from rest_framework.authtoken.models import Token

    from classifier_site.accounts.models import User
    from images.services import image_ingest

    user = User.objects.filter(username=USERNAME).first()
    if user is None:
        user = User.objects.create_user(username=USERNAME, password=PASSWORD)
    token, _ = Token.objects.get_or_create(user=user)

    def one(i: int) -> str:
        try:
            data = io.BytesIO(photo(offset + i, size))
            return str(
                image_ingest(owner=user, fileobj=data, filename=f"p{offset + i}.jpg").image.id
            )
        finally:
            connection.close()  # this thread's own connection

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(one, range(count)))
    log(f"seeded {count} images in {time.monotonic() - started:.0f}s")
    return token.key, ids


def embeddings_forget() -> int:
    """Cold runs: drop the stored vectors so every image goes through the model again."""
    from inference.models import ImageEmbedding

    return ImageEmbedding.objects.all().delete()[0]


# --- sampling --------------------------------------------------------------------------------
class Sampler:
    """Every two seconds: queue depth, workers (alive, busy), jobs by state, images done."""

    FIELDS = [
        "t",
        "queue_visible",
        "queue_in_flight",
        "predict_queue",
        "workers",
        "workers_busy",
        "jobs_active",
        "jobs_terminal",
        "images_processed",
    ]

    def __init__(self, cluster: LoadCluster, path: Path) -> None:
        self.cluster, self.path = cluster, path
        self.rows: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.time()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        with self.path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.FIELDS)
            writer.writeheader()
            writer.writerows(self.rows)

    def _run(self) -> None:
        from django.db import connection
        from django.db.models import Sum

        from jobs.models import Job

        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                visible, in_flight = self.cluster.queue_depth()
                predict = sum(self.cluster.queue_depth("predict"))
                workers = [w for w in self.cluster.cluster.workers if w.alive()]
                jobs = Job.objects.filter(source="batch")
                self.rows.append(
                    {
                        "t": round(time.time() - self.t0, 1),
                        "queue_visible": visible,
                        "queue_in_flight": in_flight,
                        "predict_queue": predict,
                        "workers": len(workers),
                        "workers_busy": sum(1 for w in workers if w.busy()),
                        "jobs_active": jobs.exclude(status__in=TERMINAL).count(),
                        "jobs_terminal": jobs.filter(status__in=TERMINAL).count(),
                        "images_processed": jobs.aggregate(n=Sum("processed"))["n"] or 0,
                    }
                )
            except Exception as exc:  # noqa: BLE001 - a missed sample is not a failed run
                log(f"sample skipped: {type(exc).__name__}: {exc}")
        connection.close()


# --- the end-of-scenario check ---------------------------------------------------------------
def wait_all_terminal(timeout: float) -> float:
    from jobs.models import Job

    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if not Job.objects.exclude(status__in=TERMINAL).exists():
            return time.monotonic() - started
        time.sleep(2)
    return -1.0


def check_jobs() -> dict:
    """Every job terminal; exactly one result row per image, none left pending; the job's
    counters agree with its rows."""
    from django.db.models import Count, Q

    from jobs.models import Job, JobImage

    problems: list[str] = []
    jobs = Job.objects.annotate(
        rows=Count("items"),
        distinct_images=Count("items__image", distinct=True),
        pending=Count("items", filter=Q(items__status="pending")),
        done=Count("items", filter=Q(items__status__in=("classified", "unknown", "failed"))),
    )
    statuses: dict[str, int] = {}
    for job in jobs:
        statuses[job.status] = statuses.get(job.status, 0) + 1
        if job.status not in TERMINAL:
            problems.append(f"job {job.id} is {job.status}")
        if job.rows != job.total or job.distinct_images != job.total:
            problems.append(f"job {job.id}: {job.rows} rows for {job.total} images")
        if job.status == "completed" and (job.pending or job.done != job.total):
            problems.append(f"job {job.id}: {job.pending} pending, {job.done}/{job.total} done")
        if job.status != "canceled" and job.processed != job.done:
            problems.append(f"job {job.id}: processed {job.processed} but {job.done} rows done")
    duplicates = (
        JobImage.objects.values("job_id", "image_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1, image_id__isnull=False)
        .count()
    )
    if duplicates:
        problems.append(f"{duplicates} (job, image) pairs with more than one result")
    failed_images = JobImage.objects.filter(status="failed").count()
    return {
        "jobs": sum(statuses.values()),
        "by_status": statuses,
        "result_rows": JobImage.objects.count(),
        "failed_images": failed_images,
        "ok": not problems,
        "problems": problems[:20],
    }


# --- Locust ----------------------------------------------------------------------------------
def locust(
    cluster: LoadCluster,
    out: Path,
    *,
    classes: list[str],
    users: int,
    spawn_rate: float,
    seconds: int,
    env: dict[str, str],
) -> None:
    cmd = [
        PY,
        "-m",
        "locust",
        "-f",
        str(ROOT / "scripts/locustfile.py"),
        "--headless",
        "--host",
        cluster.url,
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--only-summary",
        "--exit-code-on-error",
        "0",
        *classes,
    ]
    log(f"locust: {users} users of {', '.join(classes)} for {seconds}s")
    subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        timeout=seconds + 120,
        check=False,
    )


def locust_endpoints(out: Path) -> list[dict]:
    path = out / "locust_stats.csv"
    if not path.exists():
        return []
    rows = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            rows.append(
                {
                    "name": f"{row['Type']} {row['Name']}".strip(),
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "rps": round(float(row["Requests/s"]), 2),
                    "p50_ms": _num(row["50%"]),
                    "p95_ms": _num(row["95%"]),
                    "p99_ms": _num(row["99%"]),
                }
            )
    return rows


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def http_json(cluster: LoadCluster, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback
        cluster.url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read())


def predict_idle(cluster: LoadCluster, token: str, image: Path, n: int = 8) -> list[float]:
    """Single-image predict latency with nothing else running (the explosion's baseline)."""
    boundary = "loadtestboundary"
    data = image.read_bytes()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    times = []
    for i in range(n + 2):
        request = urllib.request.Request(  # noqa: S310 - loopback
            cluster.url + "/api/v1/predict",
            data=body,
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            method="POST",
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            response.read()
        if i >= 2:  # the first two load the predict worker's model: not the idle latency
            times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


# --- scenarios -------------------------------------------------------------------------------
def model_env(tmp: Path) -> dict[str, str]:
    from inference.testing import write_test_weights

    env = write_test_weights(tmp / "weights")
    env.update(
        {
            "JOB_SHARD_SIZE": os.environ.get("JOB_SHARD_SIZE", "32"),
            "TORCH_THREADS": "1",
            "LOG_LEVEL": "WARNING",
            "PREDICT_WAIT_SECONDS": "10",
        }
    )
    return env


def locust_env(token: str, ids: list[str], tmp: Path, **extra: str) -> dict[str, str]:
    image = tmp / "predict.jpg"
    image.write_bytes(photo(999_999))
    return {
        "LOAD_TOKEN": token,
        "LOAD_USERNAME": USERNAME,
        "LOAD_PASSWORD": PASSWORD,
        "LOAD_IMAGE_IDS": ",".join(ids),
        "LOAD_PREDICT_IMAGE": str(image),
        **extra,
    }


def scenario_sustained(out: Path, tmp: Path, duration: int) -> dict:
    with LoadCluster(workers=2, env=model_env(tmp)) as cluster:
        django_for(cluster)
        token, ids = seed(200)
        with Sampler(cluster, out / "samples.csv"):
            locust(
                cluster,
                out,
                classes=["ApiClient", "GalleryBrowser"],
                users=12,
                spawn_rate=2,
                seconds=duration,
                env=locust_env(token, ids, tmp),
            )
            drained = wait_all_terminal(180)
        return {"drain_seconds": drained, "check": check_jobs()}


def scenario_explosion(out: Path, tmp: Path, duration: int) -> dict:
    burst = int(os.environ.get("LOAD_BURST_JOBS", "200"))
    with LoadCluster(workers=2, env=model_env(tmp)) as cluster:
        django_for(cluster)
        token, ids = seed(240)
        env = locust_env(token, ids, tmp, LOAD_BURST_JOBS=str(burst))
        idle = predict_idle(cluster, token, Path(env["LOAD_PREDICT_IMAGE"]))
        log(f"idle predict p50 {percentile(idle, 50):.0f} ms, p95 {percentile(idle, 95):.0f} ms")
        with Sampler(cluster, out / "samples.csv"):
            # 20 burst users send the 200 jobs as fast as the server takes them; 8 readers
            # and 2 predictors keep measuring while the queue drains.
            locust(
                cluster,
                out,
                classes=["BurstSubmitter", "ApiReader", "Predictor"],
                users=30,
                spawn_rate=30,
                seconds=duration,
                env=env,
            )
            drained = wait_all_terminal(300)
        return {
            "burst_jobs": burst,
            "idle_predict_ms": {
                "p50": percentile(idle, 50),
                "p95": percentile(idle, 95),
                "samples": [round(t) for t in idle],
            },
            "drain_seconds": drained,
            "check": check_jobs(),
        }


def scenario_autoscale(out: Path, tmp: Path, duration: int) -> dict:
    with LoadCluster(workers=1, autoscale=True, env=model_env(tmp)) as cluster:
        django_for(cluster)
        token, ids = seed(640)
        with Sampler(cluster, out / "samples.csv") as sampler:
            time.sleep(6)  # the idle baseline: one worker
            # A backlog: 8 jobs of 80 new images, shards of 32 -> 24 messages.
            for n in range(8):
                http_json(
                    cluster,
                    "/api/v1/submit",
                    token,
                    {"job_type": "image_classification", "image_ids": ids[n * 80 : (n + 1) * 80]},
                )
            log("backlog submitted: 8 jobs x 80 images")
            drained = wait_all_terminal(duration)
            log(f"drained after {drained:.0f}s; waiting for scale-in")
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and len(cluster.cluster.workers) > 1:
                time.sleep(2)
            time.sleep(6)
        events = cluster.cluster.scale_events
        for event in events:
            event["t"] = round(event["t"] - sampler.t0, 1)
        return {
            "scale_events": events,
            "max_workers": max((r["workers"] for r in sampler.rows), default=0),
            "drain_seconds": drained,
            "check": check_jobs(),
        }


def scenario_throughput(out: Path, tmp: Path, duration: int) -> dict:
    big, small_jobs, small_size = 256, 32, 8
    results = []
    with LoadCluster(workers=1, env=model_env(tmp)) as cluster:
        django_for(cluster)
        token, ids = seed(big + 16)
        work, warm = ids[:big], ids[big:]
        with Sampler(cluster, out / "samples.csv") as sampler:
            for workers in (1, 2, 4):
                cluster.add_workers(workers - len(cluster.cluster.workers))
                # Warm-up: every worker loads its model before the timing (one-image jobs,
                # more of them than workers; their embeddings are then forgotten).
                for image_id in warm[: workers * 3]:
                    http_json(
                        cluster,
                        "/api/v1/submit",
                        token,
                        {"job_type": "image_classification", "image_ids": [image_id]},
                    )
                wait_all_terminal(240)
                for shape in ("one big job", "many small jobs"):
                    embeddings_forget()
                    if shape == "one big job":
                        batches = [work]
                    else:
                        batches = [
                            work[i * small_size : (i + 1) * small_size] for i in range(small_jobs)
                        ]
                    t_start = time.time() - sampler.t0
                    started = time.monotonic()
                    for chunk in batches:
                        http_json(
                            cluster,
                            "/api/v1/submit",
                            token,
                            {"job_type": "image_classification", "image_ids": chunk},
                        )
                    took = wait_all_terminal(duration)
                    elapsed = time.monotonic() - started
                    rate = big / elapsed if took >= 0 else 0.0
                    results.append(
                        {
                            "workers": workers,
                            "shape": shape,
                            "images": big,
                            "jobs": len(batches),
                            "seconds": round(elapsed, 2),
                            "images_per_s": round(rate, 2),
                            "t_start": round(t_start, 1),
                            "load_avg_1m": os.getloadavg()[0],
                        }
                    )
                    log(f"{workers} worker(s), {shape}: {rate:.1f} images/s ({elapsed:.1f}s)")
        with (out / "throughput.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(results[0]))
            writer.writeheader()
            writer.writerows(results)
        return {"runs": results, "check": check_jobs()}


SCENARIOS = {
    "sustained": scenario_sustained,
    "explosion": scenario_explosion,
    "autoscale": scenario_autoscale,
    "throughput": scenario_throughput,
}


def run(name: str, out_root: Path, duration: int) -> bool:
    out = out_root / name
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*"):
        old.unlink()
    tmp = Path(tempfile.mkdtemp(prefix=f"loadtest-{name}-"))
    load_before = os.getloadavg()
    started = time.monotonic()
    summary = SCENARIOS[name](out, tmp, duration)
    summary.update(
        {
            "scenario": name,
            "wall_seconds": round(time.monotonic() - started, 1),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
            "endpoints": locust_endpoints(out),
        }
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    from loadtest_graphs import draw

    draw(out, name, summary)
    check = summary["check"]
    log(
        f"{name}: {check['jobs']} jobs {check['by_status']}, {check['result_rows']} result rows, "
        f"check {'OK' if check['ok'] else 'FAILED: ' + '; '.join(check['problems'])}"
    )
    return bool(check["ok"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--out", default=str(ROOT / "docs/loadtest"))
    parser.add_argument("--duration", type=int, default=90, help="seconds of load per scenario")
    args = parser.parse_args()
    random.seed(0)
    if args.scenario != "all":
        sys.exit(0 if run(args.scenario, Path(args.out), args.duration) else 1)
    # One process per scenario: each has its own cluster, and Django's settings are read once.
    codes = [
        subprocess.run(
            [PY, __file__, name, "--out", args.out, "--duration", str(args.duration)], check=False
        ).returncode
        for name in SCENARIOS
    ]
    sys.exit(max(codes))


if __name__ == "__main__":
    main()
