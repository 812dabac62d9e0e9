"""A job walked in the browser with a real worker (issue 12): select all matching, run an
ImageNet job to 100 %, grouped results, lightbox, CSV export, label chips, a re-run served
from stored results that says so, and the history's filter and pages surviving Back."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest

from classifier_site.testing.browser import WatchedPage, browser_login, chromium_browser
from images.tests.factories import ImageFactory
from jobs.models import Job, JobStatus, JobType

pytestmark = [pytest.mark.browser, pytest.mark.workers]


def _screens(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_job_walk_with_a_real_worker(
    live_server, user, inference_weights, dramatiq_worker, queues, tmp_path
):
    base = live_server.url
    shots = _screens(tmp_path)
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(6)]
    dramatiq_worker(queues=["inference"], env={**inference_weights, "INFERENCE_BATCH_SIZE": "2"})
    with chromium_browser() as browser:
        w = WatchedPage(browser, base)
        page = w.page
        browser_login(page, base, "alice", "correct-horse-battery")

        # Select all matching -> classify with the ImageNet model -> 100 %.
        page.goto(base + "/images/")
        page.check("input[name=all]")
        page.click("#image-selection button:has-text('Classify')")
        page.wait_for_selector("h1:has-text('Classify 6 images')")
        page.click("text=Start job")
        page.wait_for_url("**/jobs/*/")
        assert page.locator("#running-badge").count() == 1
        page.wait_for_selector("text=Label distribution", timeout=120_000)
        assert "6 / 6" in page.inner_text("#job-progress")
        first_job = Job.objects.get(owner=user)

        # Groups start collapsed; a chart bar opens its group.
        assert page.locator("details.label-group[open]").count() == 0
        page.locator(".label-chart a.bar-label").first.click()
        assert page.locator("details.label-group[open]").count() == 1
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shots / "job-desktop.png"), full_page=True)

        # The finished job page on a phone, light and dark: no sideways scroll.
        for variant, dark in (("phone", False), ("dark", True)):
            phone = WatchedPage(browser, base, viewport="phone", dark=dark)
            browser_login(phone.page, base, "alice", "correct-horse-battery")
            phone.page.goto(f"{base}/jobs/{first_job.id}/")
            phone.page.wait_for_load_state("networkidle")
            assert phone.horizontal_overflow() == 0, variant
            assert phone.console_errors == [] and phone.bad_status == [], variant
            phone.page.screenshot(path=str(shots / f"job-{variant}.png"), full_page=True)
            phone.close()

        # Lightbox from the results.
        page.locator("#job-results a[data-lightbox]").first.click()
        page.wait_for_selector("dialog.lightbox[open] .lightbox-predictions li")
        page.keyboard.press("Escape")

        # Export: one CSV row per image.
        with page.expect_download() as download:
            page.click("a:has-text('CSV')")
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert len(rows) == 1 + 6

        # The tiles now carry their label chip.
        page.goto(base + "/images/")
        assert page.locator("#image-selection .chip").count() == 6

        # Bug 8: the same photos again are served from stored results, and it says so.
        query = "&".join(f"image={i.id}" for i in images)
        page.goto(f"{base}/jobs/new/?{query}")
        page.click("text=Start job")
        page.wait_for_url("**/jobs/*/")
        page.wait_for_selector("#job-state:has-text('Reused stored results')", timeout=120_000)
        second_job = Job.objects.filter(owner=user).exclude(pk=first_job.pk).get()
        assert page.url.endswith(f"/jobs/{second_job.id}/")
        assert "images/s" not in page.inner_text("#job-progress")

        # History: filter, page 2, Back restores the filter controls and the page.
        version = first_job.model_version
        Job.objects.bulk_create(
            Job(
                owner=user,
                job_type=JobType.IMAGE_CLASSIFICATION,
                model_version=version,
                status=JobStatus.COMPLETED,
                total=1,
                processed=1,
                classified=1,
            )
            for _ in range(30)
        )
        page.goto(base + "/jobs/")
        page.select_option("select[name=status]", "completed")
        page.wait_for_url(re.compile(r"status=completed"))
        page.wait_for_selector("#job-page:has-text('Page 1 of 2')")
        page.click("a:has-text('Older →')")
        page.wait_for_url(re.compile(r"page=2"))
        page.wait_for_selector("#job-page:has-text('Page 2 of 2')")
        page.go_back()
        page.wait_for_selector("#job-page:has-text('Page 1 of 2')")
        assert page.input_value("select[name=status]") == "completed"
        page.go_back()
        page.wait_for_url(re.compile(r"/jobs/$"))
        assert page.input_value("select[name=status]") == ""
        assert w.bad_status == []
        assert w.console_errors == []
        w.close()
