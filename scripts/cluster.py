"""`make cluster`: the production topology on one machine, under one supervisor.

PostgreSQL (the server at 127.0.0.1:5432, else a throwaway cluster started here), moto's
server on loopback for S3 and SQS, migrations as a one-off step (`manage.py release`),
then gunicorn, bulk workers (WORKERS=N, one `rundramatiq` process each, queue
`inference`), a predict worker of its own (queue `predict`: single-image predictions never
wait behind bulk work) and the sweeper. The production settings; only endpoints differ
(and SECURE_SSL_REDIRECT=0: there is no TLS terminator in front of gunicorn here).

Ctrl-C (or SIGTERM) stops everything: SIGTERM to each process's main pid, as a container
platform does (workers hand their shard back), then SIGKILL after the grace period.

With --autoscale, a scaler applies the deployment's policy to the bulk workers: a target
backlog per worker, separate scale-out and scale-in cool-downs, and no scale-in of a
worker that is in the middle of a shard (its liveness file says busy).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
GRACE_SECONDS = 30


def log(message: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


@dataclass
class Proc:
    name: str
    cmd: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None
    liveness: Path | None = None
    started: float = field(default_factory=time.monotonic)

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        # A session of its own: Ctrl-C reaches only the supervisor, which then stops each
        # child the way a platform would.
        self.popen = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started = time.monotonic()
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def busy(self) -> bool:
        """A worker in the middle of a shard (its liveness file says so)."""
        try:
            return self.liveness is not None and "busy=0" not in self.liveness.read_text()
        except OSError:
            return False

    def terminate(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]

    def wait_or_kill(self, deadline: float) -> None:
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log(f"{self.name}: still running after the grace period, SIGKILL")
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        # Children of a process (dramatiq's worker processes) go with their group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class Cluster:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="classifier-cluster-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.services: list[Proc] = []  # postgres (if ours), moto
        self.procs: list[Proc] = []  # web, predict worker, sweeper
        self.workers: list[Proc] = []  # bulk workers (scaled)
        self.env: dict[str, str] = {}
        self.web_url = ""
        self.last_scale_out = self.last_scale_in = 0.0
        self.scale_events: list[dict] = []

    # --- dependencies ---------------------------------------------------------------------
    def _postgres(self) -> str:
        name = self.args.database
        if port_open(5432):
            import psycopg

            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [name]
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{name}"')
            return f"postgres://postgres@127.0.0.1:5432/{name}"
        initdb = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None)
        if initdb is None:
            raise SystemExit("No PostgreSQL on 127.0.0.1:5432 and no initdb: `make system`.")
        pgdata, port = self.run_dir / "pgdata", free_port()
        run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if run_as:
            self.run_dir.chmod(0o777)
        if not pgdata.exists():
            subprocess.run(
                [*run_as, str(initdb), "-D", str(pgdata), "-A", "trust", "-U", "postgres"],
                check=True,
                capture_output=True,
            )
        cmd = [
            *run_as,
            str(initdb.parent / "postgres"),
            "-D",
            str(pgdata),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-k",
            str(self.run_dir),
        ]
        self.services.append(
            Proc("postgres", cmd, dict(os.environ), self.run_dir / "logs/postgres.log").start()
        )
        wait_until(lambda: port_open(port), 30, "PostgreSQL")
        time.sleep(1)
        subprocess.run(
            [
                *run_as,
                str(initdb.parent / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                name,
            ],
            check=False,
            capture_output=True,
        )
        return f"postgres://postgres@127.0.0.1:{port}/{name}"

    def _moto(self) -> str:
        port = free_port()
        moto = Path(PY).with_name("moto_server")
        self.services.append(
            Proc(
                "moto",
                [str(moto), "-H", "127.0.0.1", "-p", str(port)],
                dict(os.environ),
                self.run_dir / "logs/moto.log",
            ).start()
        )
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1)  # noqa: S310 - loopback
                return True
            except OSError:
                return False

        wait_until(up, 30, "moto server")
        return url

    # --- processes ------------------------------------------------------------------------
    def _base_env(self, db_url: str, aws_url: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
        web_port = self.args.port or free_port()
        self.web_url = f"http://127.0.0.1:{web_port}"
        env = {
            **keep,
            "DJANGO_SETTINGS_MODULE": "classifier_site.settings",
            "DEBUG": "0",
            "EMBEDDED": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "DATA_DIR": str(self.run_dir / "data"),
            "STATIC_ROOT": str(self.args.static_root or self.run_dir / "static"),
            "DATABASE_URL": db_url,
            "CACHE_BACKEND": "database",
            "BROKER_URL": "sqs://",
            "SQS_ENDPOINT_URL": aws_url,
            "SQS_NAMESPACE": self.args.namespace,
            "S3_BUCKET": "classifier-media",
            "S3_ENDPOINT_URL": aws_url,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "cluster"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "cluster"),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "INPROCESS_WORKER": "0",
            "WEB_PORT": str(web_port),
        }
        return env

    def _manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def _static_current(self) -> bool:
        """A --static-root collected after the last change to ./static (load tests start
        many clusters; collecting and compressing takes minutes on a busy machine)."""
        manifest = Path(self.env["STATIC_ROOT"]) / "staticfiles.json"
        if not self.args.static_root or not manifest.exists():
            return False
        newest = max(p.stat().st_mtime for p in (ROOT / "static").rglob("*") if p.is_file())
        return manifest.stat().st_mtime > newest

    def _worker(self, queue: str, name: str) -> Proc:
        liveness = self.run_dir / f"live/{name}"
        env = {
            **self.env,
            "WORKER_LIVENESS_FILE": str(liveness),
            # One process per worker, as one container per task in the deployment.
            "TORCH_THREADS": self.env.get("TORCH_THREADS", "1"),
        }
        cmd = [
            PY,
            "manage.py",
            "rundramatiq",
            "--processes",
            "1",
            "--threads",
            "1",
            "--queues",
            queue,
        ]
        proc = Proc(name, cmd, env, self.run_dir / f"logs/{name}.log", liveness=liveness)
        return proc.start()

    def start(self) -> None:
        log(f"run directory {self.run_dir}")
        db_url = self._postgres()
        aws_url = self._moto()
        self.env = self._base_env(db_url, aws_url)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=aws_url,
            region_name="us-east-1",
            aws_access_key_id="cluster",
            aws_secret_access_key="cluster",
        ).create_bucket(Bucket="classifier-media")
        # As the image build does, first: the production settings serve hashed, compressed
        # static files from a manifest; without it every HTML page (and the URLconf, which
        # names the favicon's hashed path) fails.
        if self._static_current():
            log(f"static files: reusing {self.env['STATIC_ROOT']}")
        else:
            log("collectstatic (one-off)")
            static = self._manage("collectstatic", "--noinput")
            if static.returncode != 0:
                raise SystemExit(f"collectstatic failed:\n{static.stdout}\n{static.stderr}")
        log("release: migrations, cache table, model versions (one-off)")
        release = self._manage("release")
        if release.returncode != 0:
            raise SystemExit(f"release failed:\n{release.stdout}\n{release.stderr}")
        if self.args.demo:
            self._manage("ensure_demo_user")
            # "Generated token <key> for user demo"
            token = self._manage("drf_create_token", "demo").stdout.split()[2]
            (self.run_dir / "demo-token").write_text(token)
        gunicorn = Path(PY).with_name("gunicorn")
        web_cmd = [
            str(gunicorn),
            "classifier_site.wsgi",
            "--bind",
            f"127.0.0.1:{self.env['WEB_PORT']}",
            "--workers",
            str(self.args.web_workers),
            "--timeout",
            "60",
            "--graceful-timeout",
            "20",
        ]
        # The deployment's web settings (gevent workers, JSON access log); the flags above
        # override its bind and worker count.
        web_cmd += ["--config", str(ROOT / "deploy" / "gunicorn.conf.py")]
        self.procs.append(Proc("web", web_cmd, self.env, self.run_dir / "logs/web.log").start())
        self.procs.append(self._worker("predict", "predict-worker"))
        self.procs.append(
            Proc(
                "sweeper",
                [PY, "manage.py", "sweep_jobs", "--loop"],
                self.env,
                self.run_dir / "logs/sweeper.log",
            ).start()
        )
        for _ in range(self.args.workers):
            self._add_worker()
        wait_until(lambda: port_open(int(self.env["WEB_PORT"])), 60, "gunicorn")
        # Jobs are accepted only for models a worker has reported it can run (the web
        # process never decides from its own disk): "up" means a worker has reported.
        log("waiting for a worker to report the models it can run")
        wait_until(self._models_reported, 600, "a worker's model report")
        state = {"web": self.web_url, "run_dir": str(self.run_dir), "workers": len(self.workers)}
        (self.run_dir / "cluster.json").write_text(json.dumps(state))
        log(
            f"up: web {self.web_url}, {len(self.workers)} bulk worker(s), predict worker, "
            "sweeper. Ctrl-C stops everything."
        )

    def _models_reported(self) -> bool:
        check = self._manage(
            "shell",
            "-c",
            "import sys; from inference.models import ModelAvailability as A; "
            "sys.exit(0 if A.objects.filter(ready=True).exists() else 1)",
        )
        if check.returncode != 0:
            time.sleep(2)
        return check.returncode == 0

    def _add_worker(self) -> None:
        n = len(self.workers) + sum(1 for e in self.scale_events if e["action"] == "in")
        self.workers.append(self._worker("inference", f"worker-{n + 1}"))

    # --- the scaler -------------------------------------------------------------------------
    def _backlog(self) -> int:
        import boto3

        sqs = boto3.client(
            "sqs",
            endpoint_url=self.env["SQS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="cluster",
            aws_secret_access_key="cluster",
        )
        url = sqs.get_queue_url(QueueName=f"{self.args.namespace}_inference")["QueueUrl"]
        attrs = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def scale(self) -> None:
        """Target tracking on backlog per worker, as the deployment's policy: out quickly,
        in slowly, and never a worker that holds a shard."""
        a = self.args
        try:
            backlog = self._backlog()
        except Exception as exc:  # noqa: BLE001 - the queue is away: keep the current size
            log(f"scaler: cannot read the queue ({type(exc).__name__}); no change")
            return
        current = len(self.workers)
        target = min(max(math.ceil(backlog / a.backlog_per_worker), a.min_workers), a.max_workers)
        now = time.monotonic()
        if target > current and now - self.last_scale_out >= a.scale_out_cooldown:
            for _ in range(target - current):
                self._add_worker()
            self.last_scale_out = now
            self._event("out", backlog, current, len(self.workers))
        elif target < current and now - self.last_scale_in >= a.scale_in_cooldown:
            idle = [w for w in reversed(self.workers) if not w.busy()]
            for worker in idle[: current - target]:
                worker.terminate()
                worker.wait_or_kill(time.monotonic() + GRACE_SECONDS)
                self.workers.remove(worker)
            if len(self.workers) < current:
                self.last_scale_in = now
                self._event("in", backlog, current, len(self.workers))
        (self.run_dir / "workers.log").open("a").write(
            json.dumps({"t": time.time(), "backlog": backlog, "workers": len(self.workers)}) + "\n"
        )

    def _event(self, action: str, backlog: int, before: int, after: int) -> None:
        event = {
            "t": time.time(),
            "action": action,
            "backlog": backlog,
            "before": before,
            "after": after,
        }
        self.scale_events.append(event)
        log(f"scale {action}: backlog {backlog}, workers {before} -> {after}")

    # --- supervision --------------------------------------------------------------------------
    def supervise(self, stop_after: float | None, stop: threading.Event | None = None) -> None:
        """Restart what died and run the scaler until ``stop_after`` seconds or ``stop``
        (the load tests supervise from a thread)."""
        deadline = time.monotonic() + stop_after if stop_after else None
        next_scale = time.monotonic()
        stop = stop or threading.Event()
        while (deadline is None or time.monotonic() < deadline) and not stop.is_set():
            for proc in [*self.procs, *self.workers]:
                if not proc.alive() and not stop.is_set():
                    # A platform restarts a dead task; so do we (after a short pause).
                    log(f"{proc.name} exited ({proc.popen.returncode}); restarting")  # type: ignore[union-attr]
                    time.sleep(1)
                    proc.start()
            if self.args.autoscale and time.monotonic() >= next_scale:
                self.scale()
                next_scale = time.monotonic() + self.args.scale_interval
            time.sleep(0.5)

    def stop(self) -> None:
        log("stopping: SIGTERM to every process, then SIGKILL after the grace period")
        apps = [*self.workers, *self.procs]
        for proc in apps:
            proc.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for proc in apps:
            proc.wait_or_kill(deadline)
        for proc in reversed(self.services):
            proc.terminate()
            proc.wait_or_kill(time.monotonic() + 10)
        if not self.args.data_dir and not self.args.keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        log("stopped")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=int(env("WORKERS", "2")))
    p.add_argument("--web-workers", type=int, default=int(env("WEB_WORKERS", "2")))
    p.add_argument("--port", type=int, default=int(env("PORT", "8000")))
    p.add_argument("--database", default=env("CLUSTER_DATABASE", "classifier_cluster"))
    p.add_argument("--namespace", default=env("CLUSTER_NAMESPACE", "cluster"))
    p.add_argument("--data-dir", default=env("CLUSTER_DIR", ""))
    p.add_argument("--keep", action="store_true", help="keep the run directory")
    p.add_argument("--static-root", default="", help="collected static files kept between runs")
    p.add_argument("--demo", action="store_true", help="demo user and an API token file")
    p.add_argument("--stop-after", type=float, default=None, help="stop after SECONDS")
    p.add_argument("--autoscale", action="store_true", default=env("AUTOSCALE") == "1")
    p.add_argument("--min-workers", type=int, default=1)
    p.add_argument("--max-workers", type=int, default=int(env("MAX_WORKERS", "4")))
    p.add_argument(
        "--backlog-per-worker",
        type=float,
        default=4.0,
        help="target messages (shards) per bulk worker",
    )
    p.add_argument("--scale-out-cooldown", type=float, default=15.0)
    p.add_argument("--scale-in-cooldown", type=float, default=45.0)
    p.add_argument("--scale-interval", type=float, default=5.0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cluster = Cluster(args)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster.start()
        cluster.supervise(args.stop_after)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        cluster.stop()


if __name__ == "__main__":
    main()
