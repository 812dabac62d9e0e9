"""``classifier``: a command-line client for remote bulk work, over the public API only.

It needs nothing of the server's code: only ``requests`` and ``tqdm`` (Django is never
imported), so ``pip install`` of the light dependencies is enough on a laptop. Commands:

    classifier login URL [--token T]          store a token (asks, or CLASSIFIER_USERNAME/PASSWORD)
    classifier upload DIR... [--recursive]    hash, skip what the server has, upload in parallel
    classifier classify [--labels ... | --category NAME] [--top-k N] [--threshold X] [--wait]
    classifier results JOB [--format csv|json] [-o FILE]
    classifier jobs

The token lives in ``$XDG_CONFIG_HOME/classifier/config.json`` (default ``~/.config``),
readable by its owner only. ``upload`` resumes after an interruption because every run
starts by asking the server which content hashes it already holds.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import mimetypes
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

API_PREFIX = "/api/v1"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
TERMINAL = {"completed", "failed", "canceled"}
# Retried: throttling and a proxy's "try again"; anything else is the server's answer.
RETRY_STATUSES = {429, 502, 503, 504}
SUBMIT_CHUNK = 1000


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit status 1."""


# --- configuration ------------------------------------------------------------------------


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "classifier" / "config.json"


def config_load() -> dict[str, Any]:
    path = config_path()
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"Cannot read {path}: {exc}. Run `classifier login URL` again.") from exc


def config_save(data: dict[str, Any]) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 before the token is written: it is never readable by others, not even
    # for the moment between write and chmod.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(path, 0o600)  # an older file may have had wider permissions
    return path


def base_url(url: str) -> str:
    """The site's root from whatever the user typed (with or without ``/api/v1``)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = f"https://{url}"
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url


# --- HTTP ---------------------------------------------------------------------------------


def error_message(response: requests.Response) -> str:
    """The JSON error shape's message (``{"error": {"message", "fields"}}``), else the text."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200].strip()}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"HTTP {response.status_code}: {error['message']}"
    return f"HTTP {response.status_code}: {json.dumps(body)[:200]}"


class Api:
    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60) -> None:
        self.url = base_url(url)
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "classifier-cli/1"
        if token:
            self.http.headers["Authorization"] = f"Token {token}"

    @classmethod
    def from_config(cls) -> Api:
        config = config_load()
        url = os.environ.get("CLASSIFIER_URL") or config.get("url")
        token = os.environ.get("CLASSIFIER_TOKEN") or config.get("token")
        if not url or not token:
            raise CliError("Not logged in: run `classifier login URL` first.")
        return cls(url, token)

    def absolute(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.url}{API_PREFIX}{path}"

    def request(self, method: str, path: str, *, ok=(200, 201, 204), **kwargs) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        for attempt in range(5):
            try:
                response = self.http.request(method, self.absolute(path), **kwargs)
            except requests.ConnectionError as exc:
                if attempt == 4:
                    raise CliError(f"Cannot reach {self.url}: {exc}") from exc
                time.sleep(1 + attempt)
                continue
            if response.status_code in RETRY_STATUSES and attempt < 4:
                time.sleep(min(float(response.headers.get("Retry-After") or 1 + attempt), 30))
                continue
            break
        if response.status_code not in ok:
            raise CliError(f"{method} {path}: {error_message(response)}")
        return response

    def json(self, method: str, path: str, **kwargs) -> Any:
        return self.request(method, path, **kwargs).json()

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a bare-array list, following its ``Link: rel="next"`` headers."""
        url: str | None = self.absolute(path)
        while url:
            response = self.request("GET", url, params=params)
            params = None  # the next link carries the query
            yield from response.json()
            url = response.links.get("next", {}).get("url")


# --- login ----------------------------------------------------------------------------------


def cmd_login(args: argparse.Namespace) -> int:
    url = base_url(args.url)
    token = args.token or os.environ.get("CLASSIFIER_TOKEN")
    if not token:
        username = args.username or os.environ.get("CLASSIFIER_USERNAME") or input("Username: ")
        password = os.environ.get("CLASSIFIER_PASSWORD") or getpass.getpass("Password: ")
        body = Api(url).json(
            "POST", "/auth/token", json={"username": username, "password": password}, ok=(200,)
        )
        token = body["token"]
    # A token given on the command line is checked before it is stored.
    who = Api(url, token).json("GET", "/", ok=(200,))
    path = config_save({"url": url, "token": token})
    print(f"Logged in to {url} as {who.get('user', '?')} (token stored in {path}).")
    return 0


# --- upload ---------------------------------------------------------------------------------


@dataclass
class LocalFile:
    path: Path
    sha256: str


def files_find(dirs: list[str], *, recursive: bool) -> list[Path]:
    found: list[Path] = []
    for name in dirs:
        root = Path(name)
        if root.is_file():
            found.append(root)
            continue
        if not root.is_dir():
            raise CliError(f"No such folder: {root}")
        entries = root.rglob("*") if recursive else root.iterdir()
        found += sorted(p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return found


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def server_images(api: Api) -> list[dict[str, Any]]:
    return list(api.pages("/images", {"limit": 1000}))


def upload_one(api: Api, path: Path) -> dict[str, Any]:
    """One file by the documented route: /upload-url, then PUT the bytes to its URL.

    On S3 the PUT goes straight to the bucket and /images/finalize checks it at once (so
    the answer says stored, duplicate or why not); on local storage the app's upload URL
    checks it as it arrives."""
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    grant = api.json(
        "POST", "/upload-url", json={"filename": path.name, "content_type": content_type}
    )
    with path.open("rb") as fh:
        put = requests.put(
            grant["upload_url"],
            data=fh,
            headers={"Content-Type": content_type},
            timeout=api.timeout,
        )
    if put.status_code not in (200, 201, 204):
        raise CliError(f"PUT upload_url: {error_message(put)}")
    try:
        body = put.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict) or "image" not in body:
        body = api.json(
            "POST", "/images/finalize", json={"key": grant["s3_key"], "filename": path.name}
        )
    return {"outcome": body["outcome"], "image": body["image"]}


def state_path() -> Path:
    return config_path().with_name("last-upload.json")


def cmd_upload(args: argparse.Namespace) -> int:
    api = Api.from_config()
    paths = files_find(args.dirs, recursive=args.recursive)
    if not paths:
        print("No image files found.")
        return 0
    local = [
        LocalFile(p, file_hash(p)) for p in tqdm(paths, desc="Hashing", unit="file", disable=None)
    ]
    known = {i["sha256"]: i for i in server_images(api) if i.get("sha256")}
    todo: dict[str, LocalFile] = {}
    ids: list[str] = []
    skipped = 0
    for f in local:
        if f.sha256 in known:
            skipped += 1
            ids.append(known[f.sha256]["id"])
        elif f.sha256 in todo:
            skipped += 1  # the same bytes twice in the folders: uploaded once
        else:
            todo[f.sha256] = f
    stored = duplicate = 0
    errors: list[str] = []
    with (
        ThreadPoolExecutor(max_workers=args.parallel) as pool,
        tqdm(total=len(todo), desc="Uploading", unit="file", disable=None) as bar,
    ):
        futures = {pool.submit(upload_one, api, f.path): f for f in todo.values()}
        for future in as_completed(futures):
            bar.update(1)
            try:
                outcome = future.result()
            except CliError as exc:
                errors.append(f"{futures[future].path}: {exc}")
                continue
            ids.append(outcome["image"]["id"])
            if outcome["outcome"] == "stored":
                stored += 1
            else:
                duplicate += 1
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps({"url": api.url, "image_ids": ids}))
    print(
        f"{len(local)} files: {stored} uploaded, {skipped + duplicate} already there (skipped), "
        f"{len(errors)} failed."
    )
    for line in errors:
        print(f"  {line}", file=sys.stderr)
    return 1 if errors else 0


# --- classify -------------------------------------------------------------------------------


def category_id(api: Api, name: str) -> int:
    for category in api.pages("/categories", {"limit": 100}):
        if category["name"].casefold() == name.casefold():
            return int(category["id"])
    raise CliError(f"No category named {name!r}: see the Categories page, or use --labels.")


def images_select(api: Api, args: argparse.Namespace) -> list[str]:
    if args.ids:
        return list(args.ids)
    if args.last_upload:
        path = state_path()
        if not path.exists():
            raise CliError("No upload recorded yet: run `classifier upload DIR` first.")
        return list(json.loads(path.read_text())["image_ids"])
    params: dict[str, Any] = {"limit": 1000}
    if args.query:
        params["q"] = args.query
    images = list(api.pages("/images", params))
    if args.since:
        since = datetime.fromisoformat(args.since)
        if since.tzinfo is None:
            since = since.astimezone()
        images = [i for i in images if datetime.fromisoformat(i["last_modified"]) >= since]
    return [i["id"] for i in images]


def job_wait(api: Api, job_ids: list[str], *, interval: float) -> dict[str, str]:
    """Poll /status until every job is finished; one bar over all their images."""
    statuses: dict[str, dict[str, Any]] = {}
    with tqdm(total=None, desc="Classifying", unit="img", disable=None) as bar:
        while True:
            for job_id in job_ids:
                if statuses.get(job_id, {}).get("status") not in TERMINAL:
                    statuses[job_id] = api.json("GET", f"/status/{job_id}")
            total = sum(s["progress"]["total"] for s in statuses.values())
            done = sum(s["progress"]["processed"] for s in statuses.values())
            bar.total = total
            bar.n = done
            bar.set_postfix_str(", ".join(sorted({s["status"] for s in statuses.values()})))
            bar.refresh()
            if all(s["status"] in TERMINAL for s in statuses.values()):
                return {job_id: s["status"] for job_id, s in statuses.items()}
            time.sleep(interval)


def cmd_classify(args: argparse.Namespace) -> int:
    api = Api.from_config()
    ids = images_select(api, args)
    if not ids:
        raise CliError("No images to classify: upload some first (or widen the selection).")
    body: dict[str, Any] = {
        "job_type": "image_classification",
        "top_k": args.top_k,
        "confidence_threshold": args.threshold,
    }
    if args.labels:
        body.update(job_type="custom_classification", custom_labels=args.labels)
    elif args.category:
        body.update(job_type="custom_classification", category_id=category_id(api, args.category))
    job_ids = []
    for start in range(0, len(ids), SUBMIT_CHUNK):
        answer = api.json("POST", "/submit", json={**body, "image_ids": ids[start:][:SUBMIT_CHUNK]})
        for warning in answer.get("warnings", []):
            print(f"warning: {warning['message']}", file=sys.stderr)
        job_ids.append(answer["job_id"])
        print(f"Job {answer['job_id']}: {min(SUBMIT_CHUNK, len(ids) - start)} images submitted.")
    if not args.wait:
        return 0
    final = job_wait(api, job_ids, interval=args.interval)
    for job_id, status in final.items():
        print(f"Job {job_id}: {status}")
    return 0 if all(s == "completed" for s in final.values()) else 1


# --- results and jobs -----------------------------------------------------------------------


def cmd_results(args: argparse.Namespace) -> int:
    api = Api.from_config()
    response = api.request("GET", f"/jobs/{args.job}/export.{args.format}")
    if args.output and args.output != "-":
        Path(args.output).write_bytes(response.content)
    else:
        sys.stdout.write(response.content.decode("utf-8"))
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    api = Api.from_config()
    params: dict[str, Any] = {"limit": args.limit}
    if args.status:
        params["status"] = args.status
    body = api.json("GET", "/jobs", params=params)
    if args.json:
        print(json.dumps(body["jobs"], indent=2))
        return 0
    print(f"{'JOB':36}  {'STATUS':10}  {'TYPE':22}  {'IMAGES':>9}  CREATED")
    for job in body["jobs"]:
        count = f"{job['processed']}/{job['total_images']}"
        print(
            f"{job['job_id']:36}  {job['status']:10}  {job['job_type']:22}  {count:>9}  "
            f"{job['created_at']}"
        )
    return 0


# --- entry point ----------------------------------------------------------------------------


def parser_build() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classifier", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("login", help="Store an API token for a server.")
    p.add_argument("url", help="The server, e.g. https://classifier.example.org")
    p.add_argument("--token", help="Use this API token instead of a password.")
    p.add_argument("--username", help="Else CLASSIFIER_USERNAME, else asked.")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("upload", help="Upload the images of folders (skips what's there).")
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("-r", "--recursive", action="store_true", help="Include subfolders.")
    p.add_argument("-j", "--parallel", type=int, default=4, help="Uploads at once (4).")
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser("classify", help="Classify uploaded images (all by default).")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--labels", nargs="+", metavar="LABEL", help="Zero-shot labels.")
    which.add_argument("--category", metavar="NAME", help="A category's labels.")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--threshold", type=float, default=0.0, help="Confidence threshold 0-1.")
    chosen = p.add_mutually_exclusive_group()
    chosen.add_argument("--ids", nargs="+", metavar="ID", help="Image ids or keys.")
    chosen.add_argument(
        "--last-upload", action="store_true", help="The images of the last `upload` run."
    )
    p.add_argument("--since", help="Only images uploaded at or after this ISO time.")
    p.add_argument("-q", "--query", help="Only images whose filename contains this.")
    p.add_argument("--wait", action="store_true", help="Show progress until finished.")
    p.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("results", help="A job's results as CSV or JSON.")
    p.add_argument("job")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("-o", "--output", help="Write to this file (default: standard output).")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("jobs", help="Your recent jobs.")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--status", choices=sorted(TERMINAL | {"pending", "queued", "processing"}))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser_build().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"classifier: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("classifier: interrupted (run the same command again to resume).", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
