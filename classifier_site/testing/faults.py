"""Worker fault injection for the tests, as a Dramatiq middleware (test settings only).

Production code has no hook for it: the middleware wraps the inference entry point the
shard runner calls right after it has claimed a shard, so a fault lands exactly where a
real crash would (lease taken, attempt counted, nothing classified yet). ``kill=`` and
``raise=`` name a job (every shard of it) or ``shard:<id>``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

from dramatiq import Middleware


def parse_faults(spec: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in spec.split(",") if "=" in part)


class FaultInjection(Middleware):
    def __init__(self, spec: str) -> None:
        self.faults = parse_faults(spec)
        self._installed = False

    def before_process_message(self, broker: Any, message: Any) -> None:
        if self._installed:
            return
        from inference import services as inference  # apps are loaded once messages flow

        classify = inference.classify
        faults = self.faults

        def faulty_classify(*, model_version: Any, inputs: Any, **kwargs: Any) -> Iterator:
            from dramatiq.middleware import CurrentMessage

            from jobs.models import JobShard

            current = CurrentMessage.get_current_message()
            shard_id = str(current.args[0]) if current and current.args else ""
            job_id = str(
                JobShard.objects.filter(pk=shard_id).values_list("job_id", flat=True).first()
            )
            # A fault names a job (all its shards) or one shard.
            targets = {job_id, f"shard:{shard_id}"}
            if faults.get("kill") in targets:
                os.kill(os.getpid(), signal.SIGKILL)
            if faults.get("raise") in targets:
                raise RuntimeError("injected failure (JOBS_TEST_FAULT)")
            for batch in classify(model_version=model_version, inputs=inputs, **kwargs):
                yield batch
                if faults.get("sleep"):
                    time.sleep(float(faults["sleep"]))

        inference.classify = faulty_classify  # type: ignore[assignment]
        self._installed = True
