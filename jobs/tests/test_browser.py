"""The job page in a real browser: it follows a running job live and shows the results
when the worker finishes, without the person reloading anything."""

from __future__ import annotations

import pytest

from classifier_site.testing.browser import browser_login, chromium_page
from images.tests.factories import ImageFactory
from jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.workers]


def test_job_page_updates_live_until_results(
    live_server, user, inference_weights, dramatiq_worker, queues
):
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(6)]
    dramatiq_worker(
        queues=["inference"],
        env={**inference_weights, "INFERENCE_BATCH_SIZE": "2", "JOBS_TEST_FAULT": "sleep=1"},
    )
    query = "&".join(f"image={i.id}" for i in images)
    with chromium_page() as page:
        browser_login(page, live_server.url, "alice", "correct-horse-battery")
        page.goto(f"{live_server.url}/jobs/new/?{query}")
        assert page.inner_text("h1") == "Classify 6 images"
        page.fill("input[name=top_k]", "3")
        page.click("text=Start job")
        page.wait_for_url("**/jobs/*/")
        job = Job.objects.get(owner=user)
        assert page.url.endswith(f"/jobs/{job.id}/")
        first = page.inner_text("#job-progress")
        assert "/ 6" in first and "Completed" not in first
        # Progress moves while the worker runs (three batches, a second each) ...
        page.wait_for_function(
            "() => /[2-5] \\/ 6/.test(document.querySelector('#job-progress').innerText)",
            timeout=90_000,
        )
        # ... and the finished job's results appear by themselves.
        page.wait_for_selector("text=Results", timeout=90_000)
        rows = page.locator("table tbody tr")
        assert rows.count() == 6
        assert "Completed" in page.inner_text("#job-progress")
        assert page.url.endswith(f"/jobs/{job.id}/")
    job.refresh_from_db()
    assert (job.status, job.processed, job.top_k) == ("completed", 6, 3)
