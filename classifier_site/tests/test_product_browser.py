"""The browser product walked as people use it (issue 12), in Debian's Chromium.

Each step names the bug it guards. Every main page is also opened at 375 px and in dark
mode: no sideways scroll, no console error, no failed request, nothing fetched from
another origin. Screenshots of each page go to $SCREENSHOT_DIR (docs/screenshots/ holds
one committed set) or the test's tmp folder.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from classifier_site.testing.browser import WatchedPage, chromium_browser
from images.models import Image
from images.tests.corpus import jpeg
from images.tests.factories import ImageFactory
from inference import registry
from inference.services import model_version_upsert
from jobs.forms import models_installed

pytestmark = [pytest.mark.browser]

PASSWORD = "a-strong-pass-123"


def _screens(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sign_up(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/signup/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button:has-text('Sign up')")
    page.wait_for_selector(f"h1:has-text('Hello, {username}')")


def _log_in(page, base: str, username: str) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_selector("h1:has-text('Hello,')")


def _photos(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for i, name in enumerate(["beach-1", "beach-2", "beach-3", "city-1", "city-2", "city-3"]):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(jpeg(seed=40 + i, size=(96 + i, 80)))
        files[name] = path
    dup = tmp_path / "beach-1-copy.jpg"
    dup.write_bytes(files["beach-1"].read_bytes())
    files["dup"] = dup
    for name in ("notes", "readme"):
        bad = tmp_path / f"{name}.jpg"
        bad.write_bytes(b"plain text with a .jpg name\n")
        files[name] = bad
    return files


def _check_pages(browser, base: str, username: str, pages: dict[str, str], shots: Path) -> None:
    """Every page at desktop, phone and phone-dark: no sideways scroll, no console error,
    no failed or foreign request; a screenshot of each."""
    for variant, viewport, dark in (
        ("desktop", "desktop", False),
        ("phone", "phone", False),
        ("dark", "phone", True),
    ):
        watched = WatchedPage(browser, base, viewport=viewport, dark=dark)
        _log_in(watched.page, base, username)
        for name, path in pages.items():
            watched.reset()
            watched.page.goto(base + path)
            watched.page.wait_for_load_state("networkidle")
            where = f"{name} ({variant})"
            assert watched.horizontal_overflow() == 0, where
            assert watched.console_errors == [], where
            assert watched.failed == [], where
            assert watched.bad_status == [], where
            assert watched.foreign == [], where
            watched.page.screenshot(path=str(shots / f"{name}-{variant}.png"), full_page=True)
        if viewport == "phone":
            # The nav is a menu under 700 px: hidden until "Menu" is pressed.
            assert not watched.page.is_visible("nav.nav >> text=Categories")
            watched.page.click("button.nav-toggle")
            assert watched.page.is_visible("nav.nav >> text=Categories")
            assert watched.horizontal_overflow() == 0
        watched.close()


@pytest.mark.django_db(transaction=True)
def test_a_new_users_walk_without_a_worker(live_server, other_user, tmp_path):
    base = live_server.url
    files = _photos(tmp_path)
    shots = _screens(tmp_path)
    foreign_image = ImageFactory(stored=True, owner=other_user, seed=5)
    with chromium_browser() as browser:
        w = WatchedPage(browser, base)
        page = w.page
        _sign_up(page, base, "walker")

        # Bug 9: the first token is not "replacing" anything; a copy button is offered.
        page.click("nav >> text=API token")
        page.click("button:has-text('Create token')")
        assert page.inner_text(".messages") == "Your API token was created."
        assert page.is_visible("button[data-copy=api-token]")

        # Upload 8 photos: 6 good, 1 duplicate of one of them, 1 not an image.
        page.goto(base + "/images/upload/")
        chosen = [files[n] for n in ("beach-1", "beach-2", "beach-3", "city-1", "city-2")]
        chosen += [files["city-3"], files["dup"], files["notes"]]
        page.set_input_files("input[type=file]", [str(p) for p in chosen])
        page.click("button:has-text('Upload')")
        heading = page.wait_for_selector("#upload-outcomes h2")
        assert heading.inner_text() == "6 stored, 1 duplicate, 1 rejected"
        assert "duplicate" in page.inner_text("#upload-outcomes tr:has-text('beach-1-copy.jpg')")
        assert "rejected" in page.inner_text("#upload-outcomes tr:has-text('notes.jpg')")
        assert page.inner_text("#upload-outcomes a.btn.primary") == "Classify these 6"

        # Bug 1: an upload where every file is rejected shows every reason (a 400).
        page.set_input_files("input[type=file]", [str(files["notes"]), str(files["readme"])])
        page.click("button:has-text('Upload')")
        page.wait_for_selector("#upload-outcomes h2:has-text('0 stored, 0 duplicates, 2 rejected')")
        assert page.locator("#upload-outcomes tbody tr").count() == 2
        assert "readme.jpg" in page.inner_text("#upload-outcomes")

        # Bug 2: the first tick after typing a search survives (no refresh on blur).
        page.goto(base + "/images/")
        page.fill("#image-q", "beach")
        page.wait_for_selector("#gallery-count:has-text('3 images match')")
        first = page.locator("#image-selection input[name=image]").first
        first.check()
        page.wait_for_timeout(1200)  # longer than the search's 400 ms debounce
        assert first.is_checked()
        assert page.inner_text("[data-selected-count]") == "1 selected"
        # Shift-click selects the range.
        page.locator("#image-selection input[name=image]").nth(2).click(modifiers=["Shift"])
        assert page.inner_text("[data-selected-count]") == "3 selected"
        page.click("button[data-clear-selection]")
        assert page.inner_text("[data-selected-count]") == "0 selected"
        # "Select all N matching" carries the search: the delete confirm shows what goes.
        page.check("input[name=all]")
        page.wait_for_timeout(600)
        assert page.is_checked("input[name=all]")
        page.click("button:has-text('Delete…')")
        page.wait_for_selector("h1:has-text('Delete 3 images?')")
        assert page.locator(".delete-preview img").count() == 3
        page.click("a:has-text('Cancel')")

        # Bug 3: Back restores the filter controls with the results.
        page.goto(base + "/images/")
        page.fill("#image-q", "city")
        page.wait_for_url(re.compile(r"q=city"))
        page.wait_for_selector("#gallery-count:has-text('3 images match')")
        page.select_option("select[name=sort]", "name")
        page.wait_for_url(re.compile(r"sort=name"))
        page.go_back()
        page.wait_for_url(re.compile(r"/images/\?q=city$"))
        assert page.input_value("select[name=sort]") == "newest"
        assert page.input_value("#image-q") == "city"
        page.go_back()
        page.wait_for_url(re.compile(r"/images/$"))
        assert page.input_value("#image-q") == ""
        assert page.inner_text("#gallery-count") == "6 images"

        # Lightbox from the gallery: ←/→ move between photos, Esc closes.
        page.locator("#image-selection a[data-lightbox]").first.click()
        page.wait_for_selector("dialog.lightbox[open] .lightbox-panel h2")
        name_1 = page.inner_text("dialog.lightbox .lightbox-panel h2")
        page.keyboard.press("ArrowRight")
        shown = (
            "() => (document.querySelector('dialog.lightbox .lightbox-panel h2') || {}).innerText"
        )
        page.wait_for_function(
            f"n => {{ const t = ({shown})(); return t && t !== n; }}", arg=name_1
        )
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(f"n => ({shown})() === n", arg=name_1)
        page.keyboard.press("Escape")
        page.wait_for_selector("dialog.lightbox", state="hidden")

        # No silent failure: a dropped connection says so, and Retry repeats the request.
        page.route("**/images/?q=*", lambda route: route.abort())
        page.fill("#image-q", "beach")
        page.wait_for_selector("#request-errors:has-text('network error')")
        page.unroute("**/images/?q=*")
        page.click("#request-errors button:has-text('Retry')")
        page.wait_for_selector("#gallery-count:has-text('3 images match')")
        assert page.inner_text("#request-errors") == ""

        # Bug 7: someone else's image id in the URL: said once, left out.
        page.goto(f"{base}/jobs/new/?image={foreign_image.id}")
        assert page.inner_text("h1") == "Classify 0 images"
        body = page.inner_text("main")
        assert body.count("no longer exists or is not yours") == 1
        assert "Unknown image" not in body

        # Bug 5 (UI side): models without weights are shown, greyed out, "not installed".
        for spec in registry.specs_all():
            model_version_upsert(spec=spec, activate=False)
        missing = sorted(name for name, ok in models_installed().items() if not ok)
        assert any(name.startswith("open_clip/") for name in missing)  # a fresh install
        mine = Image.objects.filter(owner__username="walker").first()
        page.goto(f"{base}/jobs/new/?image={mine.id}")
        disabled = page.locator("select[name=model_version] option[disabled]")
        labels = sorted(disabled.all_inner_texts())
        assert len(labels) == len(missing)
        assert all(text.endswith("— not installed") for text in labels)
        assert "inference_models --fetch" not in page.inner_text("main")  # staff only

        # Bug 1 (quick classify): an invalid file shows the reason in the result box.
        page.goto(base + "/predict/")
        page.set_input_files("#predict-file", str(files["notes"]))
        page.click("button:has-text('Classify')")
        page.wait_for_selector("#predict-result .msg.error")

        # Bug 9: styled 404, favicon served, Redoc fetches nothing from elsewhere.
        w.reset()
        response = page.goto(f"{base}/jobs/{uuid.uuid4()}/")
        assert response.status == 404
        assert page.is_visible(".error-page .code:has-text('404')")
        assert page.is_visible("link[rel=icon]") or page.locator("link[rel=icon]").count() == 1
        favicon = page.request.get(base + "/favicon.ico")
        assert favicon.ok and "svg" in favicon.headers["content-type"]
        w.reset()
        page.goto(base + "/api/v1/redoc/")
        page.wait_for_load_state("networkidle")
        assert page.url == base + "/api/v1/docs/"
        assert w.foreign == []
        w.close()

        _check_pages(
            browser,
            base,
            "walker",
            {
                "dashboard": "/",
                "upload": "/images/upload/",
                "gallery": "/images/",
                "image": f"/images/{mine.id}/",
                "categories": "/categories/",
                "category-new": "/categories/new/",
                "jobs": "/jobs/",
                "job-new": f"/jobs/new/?image={mine.id}",
                "predict": "/predict/",
                "token": "/accounts/token/",
            },
            shots,
        )

        # Log out; a second user sees nothing of the first one's.
        second = WatchedPage(browser, base, viewport="phone")
        _sign_up(second.page, base, "second")
        second.page.goto(base + "/images/")
        assert "No images yet" in second.page.inner_text("#gallery-results")
        second.page.goto(base + "/jobs/")
        assert "No jobs" in second.page.inner_text("#job-table")
        second.page.click("button.nav-toggle")
        second.page.click("button:has-text('Log out')")
        second.page.wait_for_selector("h1:has-text('Log in')")
        second.close()
