"""Settings for the test suite and every process it starts (workers, servers).

The production settings, plus what only tests need; nothing here exists in production.
``JOBS_TEST_FAULT`` injects worker faults: ``kill=<job id>`` (SIGKILL once the job is
claimed), ``raise=<job id>`` (an exception there), ``sleep=<seconds>`` (after each batch).
"""

from __future__ import annotations

import os

from classifier_site.settings import *  # noqa: F403
from classifier_site.settings import DRAMATIQ_BROKER
from classifier_site.testing.faults import FaultInjection

JOBS_TEST_FAULT = os.environ.get("JOBS_TEST_FAULT", "")
if JOBS_TEST_FAULT:
    DRAMATIQ_BROKER = {
        **DRAMATIQ_BROKER,
        "MIDDLEWARE": [*DRAMATIQ_BROKER["MIDDLEWARE"], FaultInjection(JOBS_TEST_FAULT)],
    }
