"""Upload page and gallery in a real browser (htmx + upload.js), as a person uses them."""

from __future__ import annotations

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
        assert heading.inner_text() == "2 stored, 0 duplicates, 1 rejected"
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
