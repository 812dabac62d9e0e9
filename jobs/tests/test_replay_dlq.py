"""replay_dlq against the SQS server on loopback (moto), through the app's own broker."""

from __future__ import annotations

from io import StringIO

import dramatiq
import pytest
from django.core.management import CommandError, call_command

QUEUE = "default"  # no test worker consumes it


def _urls():
    broker = dramatiq.get_broker()
    broker.declare_queue(QUEUE)
    return broker.sqs.meta.client, broker.queue_url(QUEUE), broker.dead_letter_queue_url(QUEUE)


def _drain(sqs, url) -> list[str]:
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return sorted(bodies)
        for m in messages:
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def dead_letters():
    sqs, url, dlq = _urls()
    _drain(sqs, url)
    _drain(sqs, dlq)
    bodies = [f'{{"n": {i}}}' for i in range(5)]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    yield sqs, url, dlq, bodies
    _drain(sqs, url)
    _drain(sqs, dlq)


def test_replay_moves_up_to_the_limit(dead_letters):
    sqs, url, dlq, bodies = dead_letters
    out = StringIO()
    call_command("replay_dlq", queue=QUEUE, limit=3, stdout=out)
    assert "moved 3 message(s) from default's dead-letter queue" in out.getvalue()
    moved = _drain(sqs, url)
    left = _drain(sqs, dlq)
    assert len(moved) == 3
    assert sorted(moved + left) == sorted(bodies)


def test_dry_run_moves_nothing(dead_letters):
    sqs, url, dlq, bodies = dead_letters
    out = StringIO()
    call_command("replay_dlq", queue=QUEUE, limit=10, dry_run=True, stdout=out)
    assert "would move 5 message(s)" in out.getvalue()
    assert _drain(sqs, url) == []
    assert _drain(sqs, dlq) == sorted(bodies)


def test_limit_must_be_positive():
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        call_command("replay_dlq", queue=QUEUE, limit=0)
