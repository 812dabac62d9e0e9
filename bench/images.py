"""Images benchmark: gallery and API list latency at 10 000 images, keyset vs OFFSET at a
deep page, and intake throughput for 12-megapixel JPEGs.

    .venv/bin/python bench/images.py            # a fresh PostgreSQL db, dropped afterwards
    DATABASE_URL=postgres://... .venv/bin/python bench/images.py   # use that database

Without DATABASE_URL it creates ``bench_images_<random>`` on postgres@127.0.0.1:5432.
Rows are bulk-created (not through intake); only the throughput part runs intake.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_IMAGES = 10_000
PAGE = 50
RUNS = 40
INTAKE_IMAGES = 8


def _setup_database() -> tuple[str | None, str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return None, url
    import psycopg

    name = f"bench_images_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgres://postgres@127.0.0.1:5432/{name}"


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _timings(fn, runs: int = RUNS) -> tuple[float, float]:
    fn()  # warm up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    created_db, url = _setup_database()
    tmp = Path(tempfile.mkdtemp(prefix="bench-images-"))
    os.environ.update(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "DEBUG": "0",
            "EMBEDDED": "1",
            "DATA_DIR": str(tmp),
            "LOG_LEVEL": "WARNING",
            "INPROCESS_WORKER": "0",
            "THROTTLE_USER": "1000000/hour",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "classifier_site.settings")
    try:
        import django

        django.setup()
        run(tmp)
    finally:
        from django.db import connections

        connections.close_all()
        if created_db:
            _drop_database(created_db)


def run(tmp: Path) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from classifier_site.accounts.models import User
    from images.models import Image
    from images.selectors import ImageFilters, image_cursor, image_list, image_page

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", password="x")
    other = User.objects.create_user("other", password="x")
    now = timezone.now()
    rows = []
    for i in range(N_IMAGES * 2):
        owner = user if i < N_IMAGES else other
        rows.append(
            Image(
                owner=owner,
                file=f"uploads/{owner.pk}/2025/01/01/{i}.jpg",
                thumbnail=f"thumbnails/{owner.pk}/2025/01/01/{i}.webp",
                original_filename=f"IMG_{i:06d}.jpg",
                format="JPEG",
                mime_type="image/jpeg",
                size_bytes=100_000 + (i * 7919) % 5_000_000,
                width=4000,
                height=3000,
                sha256=f"{i:064x}",
                created_at=now - timedelta(minutes=i),
            )
        )
    Image.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE images_image")
    print(
        f"images: {N_IMAGES} rows for the measured user (+{N_IMAGES} for another), "
        f"PostgreSQL {connection.pg_version}"
    )

    client = Client()
    client.force_login(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    def get(c, path):
        response = c.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response

    qs = image_list(user=user, filters=ImageFilters())
    deep_offset = N_IMAGES - 500
    anchor = qs[deep_offset - 1 : deep_offset][0]
    deep_cursor = image_cursor(anchor, "newest")

    cases = [
        ("gallery page 1 (HTML, 48 tiles)", lambda: get(client, "/images/")),
        ("gallery page 1, htmx partial", lambda: client.get("/images/", HTTP_HX_REQUEST="true")),
        (
            "gallery deep page (keyset, row 9500)",
            lambda: get(client, f"/images/?after={deep_cursor}"),
        ),
        ("gallery search q=IMG_0099", lambda: get(client, "/images/?q=IMG_0099")),
        ("gallery sort=size", lambda: get(client, "/images/?sort=size")),
        ("API list limit=50", lambda: get(api, "/api/v1/images?limit=50")),
        ("API list deep page (keyset)", lambda: get(api, f"/api/v1/images?after={deep_cursor}")),
    ]
    print(f"\nlatency over {RUNS} requests (ms)        median     p95")
    for label, fn in cases:
        median, p95 = _timings(fn)
        print(f"  {label:<36} {median:7.1f} {p95:7.1f}")

    offset_ms, _ = _timings(lambda: list(qs[deep_offset : deep_offset + PAGE]), runs=60)
    keyset_ms, _ = _timings(
        lambda: image_page(qs, sort="newest", after=deep_cursor, size=PAGE), runs=60
    )
    first = [i.pk for i in qs[deep_offset : deep_offset + PAGE]]
    same = [i.pk for i in image_page(qs, sort="newest", after=deep_cursor, size=PAGE).items]
    assert first == same, "keyset and OFFSET disagree"
    print(f"\ndeep page (rows {deep_offset}-{deep_offset + PAGE}), query only (ms, median):")
    print(
        f"  OFFSET {offset_ms:6.2f}   keyset {keyset_ms:6.2f}   "
        f"OFFSET/keyset = {offset_ms / keyset_ms:.1f}x"
    )

    intake(user, tmp)


def intake(user, tmp: Path) -> None:
    from django.conf import settings
    from PIL import Image as PILImage
    from PIL import ImageDraw

    from images.services import image_ingest

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp / "media"},
        },
    }
    from django.core.files.storage import storages

    storages._storages = {}
    # A photo-like 4000 × 3000 picture: smooth gradients plus mild noise.
    base = PILImage.linear_gradient("L").resize((4000, 3000))
    noise = PILImage.effect_noise((4000, 3000), 24)
    photo = PILImage.merge("RGB", (base, noise, base.transpose(PILImage.Transpose.ROTATE_180)))
    payloads = []
    for i in range(INTAKE_IMAGES):
        variant = photo.copy()
        ImageDraw.Draw(variant).rectangle((i * 40, 0, i * 40 + 30, 30), fill=(i, 255, 0))
        out = io.BytesIO()
        variant.save(out, "JPEG", quality=90)
        payloads.append(out.getvalue())
    size_mb = statistics.mean(len(p) for p in payloads) / 1e6
    start = time.perf_counter()
    for i, data in enumerate(payloads):
        result = image_ingest(owner=user, fileobj=io.BytesIO(data), filename=f"p{i}.jpg")
        assert not result.duplicate
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    for i, data in enumerate(payloads):
        assert image_ingest(owner=user, fileobj=io.BytesIO(data), filename=f"p{i}.jpg").duplicate
    dup_elapsed = time.perf_counter() - start
    print(f"\nintake, 12 MP JPEG (~{size_mb:.1f} MB each), local storage, one process:")
    print(
        f"  new images  {INTAKE_IMAGES / elapsed:6.2f} images/s  "
        f"({elapsed / INTAKE_IMAGES * 1000:.0f} ms each)"
    )
    print(f"  duplicates  {INTAKE_IMAGES / dup_elapsed:6.1f} images/s  (hash + one lookup)")


if __name__ == "__main__":
    main()
