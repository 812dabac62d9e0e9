"""Upload page and gallery in a real browser (htmx + upload.js), as a person uses them."""

from __future__ import annotations

import re

import pytest

from classifier_site.testing.browser import browser_login, chromium_page
from images.models import Image
from images.tests.corpus import jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_several_files_then_see_them_in_the_gallery(live_server, user, tmp_path):
    good = tmp_path / "holiday.jpg"
    good.write_bytes(jpeg(seed=7, size=(120, 90)))
    other = tmp_path / "beach.jpg"
    other.write_bytes(jpeg(seed=8, size=(90, 120)))
    fake = tmp_path / "notes.jpg"
    fake.write_bytes(b"just some text, not a picture\n")

    with chromium_page() as page:
        browser_login(page, live_server.url, "alice", "correct-horse-battery")
        page.goto(live_server.url + "/images/upload/")
        page.set_input_files("input[type=file]", [str(good), str(other), str(fake)])
        assert page.inner_text("#upload-chosen") == "3 files chosen"
        page.click("button:has-text('Upload')")
        heading = page.wait_for_selector("#upload-outcomes h2")
        assert heading.inner_text() == "2 stored, 0 duplicates, 1 rejected", page.inner_text(
            "#upload-outcomes"
        )
        rows = page.locator("#upload-outcomes tbody tr")
        assert rows.count() == 3
        rejected = page.locator("#upload-outcomes tr:has-text('notes.jpg')").inner_text()
        assert "rejected" in rejected

        # The same files again: duplicates, nothing new stored.
        page.set_input_files("input[type=file]", [str(good)])
        page.click("button:has-text('Upload')")
        page.wait_for_selector("#upload-outcomes h2:has-text('0 stored, 1 duplicate')")

        page.goto(live_server.url + "/images/")
        tiles = page.locator("img[src*='/thumbnail']")
        assert tiles.count() == 2
        page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)

    assert sorted(Image.objects.filter(owner=user).values_list("original_filename", flat=True)) == [
        "beach.jpg",
        "holiday.jpg",
    ]


def test_direct_upload_to_s3_from_the_browser(live_server, user, s3_storage, tmp_path, settings):
    """With S3 storage the page sends each file straight to the bucket (presigned POST, a
    progress bar per file and overall), then finalizes; the web server never gets the bytes."""
    import boto3

    from images.tests.helpers import s3_keys

    # As the settings do when S3_BUCKET is set at start: the page may connect to the bucket.
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**directives, "connect-src": ["'self'", settings.S3_ENDPOINT_URL]}
    }

    # The browser posts cross-origin to the bucket: it needs the bucket's CORS, as in deploy/.
    boto3.client(
        "s3", endpoint_url=settings.S3_ENDPOINT_URL, region_name="us-east-1"
    ).put_bucket_cors(
        Bucket=s3_storage,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["POST"],
                    "AllowedOrigins": [live_server.url],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                }
            ]
        },
    )
    files = []
    for i, name in enumerate(["harbour.jpg", "forest.jpg"]):
        path = tmp_path / name
        path.write_bytes(jpeg(seed=30 + i, size=(100 + i, 70)))
        files.append(path)
    fake = tmp_path / "letter.jpg"
    fake.write_bytes(b"a letter, not a photo\n")
    files.append(fake)

    with chromium_page() as page:
        posts: list[str] = []
        page.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)
        browser_login(page, live_server.url, "alice", "correct-horse-battery")
        page.goto(live_server.url + "/images/upload/")
        page.set_input_files("input[type=file]", [str(p) for p in files])
        page.click("button:has-text('Upload')")
        heading = page.wait_for_selector("#upload-outcomes h2:has-text('stored')")
        assert heading.inner_text() == "2 stored, 0 duplicates, 1 rejected", page.inner_text(
            "#upload-outcomes"
        )

        rows = page.locator("#upload-outcomes tbody tr")
        assert rows.count() == 3
        for name in ("harbour.jpg", "forest.jpg"):
            row = page.locator(f"#upload-outcomes tr[data-file='{name}']")
            assert row.locator(".badge").inner_text() == "stored"
            assert row.locator("progress").get_attribute("value") == "100"
            assert "× 70 JPEG" in row.inner_text()
        bad = page.locator("#upload-outcomes tr[data-file='letter.jpg']")
        assert bad.locator(".badge").inner_text() == "rejected"
        # The server's own reason, from finalize's intake.
        assert "This is a text file, not an image, whatever its name says." in bad.inner_text()
        assert page.get_attribute("#upload-progress", "value") == "100"
        assert page.inner_text("#upload-overall") == "3 of 3 done"

        stored = Image.objects.filter(owner=user)
        ids = sorted(str(i) for i in stored.values_list("id", flat=True))
        classify = page.locator("#upload-outcomes a.btn.primary")
        assert classify.inner_text() == "Classify these 2"
        href = classify.get_attribute("href")
        assert (
            href.startswith("/jobs/new/?")
            and sorted(re.findall(r"image=([0-9a-f-]+)", href)) == ids
        )

    # Each file went to the bucket; the app got only the small grant and finalize calls.
    bucket_posts = [u for u in posts if u.startswith(settings.S3_ENDPOINT_URL)]
    assert len(bucket_posts) == 3
    assert not [u for u in posts if u.endswith("/images/upload/")]
    assert sum(u.endswith("/api/v1/images/finalize") for u in posts) == 3
    assert sorted(stored.values_list("original_filename", flat=True)) == [
        "forest.jpg",
        "harbour.jpg",
    ]
    # Staging objects are gone; only the originals and thumbnails remain.
    keys = s3_keys(s3_storage)
    assert not [k for k in keys if k.startswith("incoming/")]
    assert len(keys) == 4


def test_gallery_shows_new_uploads_from_elsewhere_without_a_reload(live_server, user):
    """Uploads from another tab or the API appear as a polled "N new" line; Show brings
    them in. The grid itself is not re-fetched by the poll."""
    from images.tests.factories import ImageFactory

    ImageFactory(stored=True, owner=user, seed=1)
    with chromium_page() as page:
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        grid_fetches: list[str] = []
        page.on(
            "request",
            lambda req: (
                grid_fetches.append(req.url) if req.url.split("?")[0].endswith("/images/") else None
            ),
        )
        browser_login(page, live_server.url, "alice", "correct-horse-battery")
        page.goto(live_server.url + "/images/")
        assert page.locator("#gallery-results img[src*='/thumbnail']").count() == 1
        assert page.inner_text("#gallery-fresh").strip() == ""

        for seed in (2, 3):  # e.g. a script using the API
            ImageFactory(stored=True, owner=user, seed=seed)
        grid_fetches.clear()
        page.wait_for_selector(
            "#gallery-fresh .fresh-count:has-text('2 new images')", timeout=25_000
        )
        assert grid_fetches == []  # only the line was polled
        assert page.locator("#gallery-results img[src*='/thumbnail']").count() == 1
        page.click("#gallery-fresh a:has-text('Show')")
        page.wait_for_selector("#gallery-results img[src*='/thumbnail'] >> nth=2")
        assert page.locator("#gallery-results img[src*='/thumbnail']").count() == 3
        assert page.inner_text("#gallery-fresh").strip() == ""
    assert errors == []
