"""A strict Content-Security-Policy, and a real browser that finds nothing it blocks."""

from __future__ import annotations

import pytest

from classifier_site.testing.browser import browser_login, chromium_page
from images.tests.factories import ImageFactory
from jobs.services import job_submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded by the browser itself (an init script is not subject to the page's policy).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sample);
});
"""


def test_pages_run_under_the_policy_without_a_violation(
    live_server, user, local_storage, inference_available, settings
):
    user.is_staff = user.is_superuser = True
    user.save()
    images = [ImageFactory(stored=True, owner=user, seed=i) for i in range(2)]
    job = job_submit(
        owner=user, image_ids=[i.id for i in images], job_type="image_classification"
    ).job
    pages = [
        "/",
        "/images/",
        f"/images/{images[0].pk}/",
        "/images/upload/",
        "/categories/",
        "/jobs/",
        f"/jobs/{job.id}/",
        "/predict/",
        "/accounts/token/",
        "/admin/",
    ]
    console: list[str] = []
    with chromium_page() as page:
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda msg: console.append(msg.text))
        browser_login(page, live_server.url, "alice", "correct-horse-battery")
        for path in pages:
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == 200, path
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "style-src 'self'" in policy, path
            assert "unsafe-inline" not in policy, path
            page.wait_for_load_state("networkidle")
            assert page.evaluate("window.__csp") == [], path
        assert [line for line in console if "Content Security Policy" in line] == []
        # The API docs pages need inline styles (Swagger UI, Redoc): only those are relaxed.
        # Redoc's template also asks for web fonts and a logo from other hosts; the policy
        # blocking those is intended (no third-party requests), so only scripts count here.
        for path in ["/api/v1/docs/", "/api/v1/redoc/"]:
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == 200, path
            assert "script-src 'self'" in response.headers["content-security-policy"]
            page.wait_for_load_state("networkidle")
            scripts = [v for v in page.evaluate("window.__csp") if v.startswith("script-src")]
            assert scripts == [], path
            page.evaluate("window.__csp = []")
        # The job's progress is a <progress> element (no style attribute to forbid).
        page.goto(f"{live_server.url}/jobs/{job.id}/")
        page.wait_for_load_state("networkidle")
        assert page.eval_on_selector("progress.job-bar", "el => el.value") == 0
        assert page.evaluate("window.__csp") == []


def test_an_inline_script_would_be_blocked(live_server, user):
    """The check above can fail: the same browser reports a violation for inline code."""
    with chromium_page() as page:
        page.add_init_script(RECORD_VIOLATIONS)
        browser_login(page, live_server.url, "alice", "correct-horse-battery")
        page.evaluate(
            """() => { const s = document.createElement("script");
                       s.textContent = "window.ran = 1"; document.body.appendChild(s); }"""
        )
        page.wait_for_timeout(200)
        assert page.evaluate("window.ran") is None
        assert any("script-src" in v for v in page.evaluate("window.__csp"))
