"""The queue settings the issue fixes, checked on the real broker and the real SQS server."""

from __future__ import annotations

import contextlib
import json
import os

import boto3
import dramatiq
from django.conf import settings
from dramatiq.middleware import Retries

from classifier_site.core.broker import QUEUE_JOBS, RedrivingSQSBroker
from classifier_site.testing.processes import run_python


def _sqs():
    return boto3.client("sqs", endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1")


def test_broker_is_sqs_with_bounded_retries_and_db_middleware():
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedrivingSQSBroker)
    assert broker.dead_letter is True
    assert broker.visibility_timeout == settings.SQS_VISIBILITY_TIMEOUT_SECONDS
    assert broker.visibility_timeout > settings.JOB_TIME_LIMIT_SECONDS
    retries = [m for m in broker.middleware if isinstance(m, Retries)]
    assert len(retries) == 1
    assert retries[0].max_backoff <= 15 * 60 * 1000
    names = [type(m).__name__ for m in broker.middleware]
    assert "DbConnectionsMiddleware" in names
    assert "TimeLimit" in names


def test_sqs_queue_has_visibility_timeout_and_redrive_to_dead_letter_queue():
    broker = dramatiq.get_broker()
    broker.declare_queue(QUEUE_JOBS)
    url = broker.queue_url(QUEUE_JOBS)
    attrs = _sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == str(settings.SQS_VISIBILITY_TIMEOUT_SECONDS)
    redrive = json.loads(attrs["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == 3
    dlq_url = broker.dead_letter_queue_url(QUEUE_JOBS)
    dlq_arn = _sqs().get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    assert redrive["deadLetterTargetArn"] == dlq_arn["Attributes"]["QueueArn"]
    assert url.endswith(f"{settings.SQS_NAMESPACE}_{QUEUE_JOBS}")


def test_redrive_moves_a_message_after_three_receives(settings):
    """SQS itself (not the worker) retires a message that was received and never acked."""
    broker = RedrivingSQSBroker(
        namespace=settings.SQS_NAMESPACE + "r",
        dead_letter=True,
        visibility_timeout=1,
        max_receives=3,
        endpoint_url=os.environ["MOTO_URL"],
        region_name="us-east-1",
    )
    broker.declare_queue("poison")
    sqs = _sqs()
    url, dlq = broker.queue_url("poison"), broker.dead_letter_queue_url("poison")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    receives = 0
    for _ in range(6):
        got = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, WaitTimeSeconds=0)
        receives += len(got.get("Messages", []))
    assert receives == 3
    moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in moved] == ["x"]


def test_worker_processes_prefetch_one_message():
    code = "import django; django.setup(); import dramatiq.worker as w; print(w.QUEUE_PREFETCH)"
    env = {k: v for k, v in os.environ.items() if k != "dramatiq_queue_prefetch"}
    out = run_python(code, env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def _consumer_holding_one_unackable_message(consumer_class):
    """A consumer (prefetch 1) of a fresh queue holding 2 messages, and its first message
    rewired to an SQS endpoint that refuses connections: the acknowledgement fails for
    real, as when SQS is unreachable at that moment."""
    import uuid

    broker = dramatiq.get_broker()
    queue = f"acktest{uuid.uuid4().hex[:6]}"
    broker.declare_queue(queue)
    for n in range(2):
        broker.enqueue(dramatiq.Message(queue, "actor", (n,), {}, {}))
    consumer = broker.consume(queue, prefetch=1, timeout=1000)
    consumer.__class__ = consumer_class
    first = next(m for m in iter(lambda: next(consumer), "never") if m is not None)
    dead = boto3.resource(
        "sqs",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=boto3.session.Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    first._sqs_message = dead.Message(consumer.queue.url, first._sqs_message.receipt_handle)
    return consumer, first


def _next_message(consumer, tries: int = 3):
    for _ in range(tries):
        message = next(consumer)
        if message is not None:
            return message
    return None


def test_upstream_consumer_stops_asking_after_a_failed_ack():
    """The dramatiq-sqs bug our subclass fixes, shown on the upstream class."""
    from dramatiq_sqs.broker import SQSConsumer

    consumer, first = _consumer_holding_one_unackable_message(SQSConsumer)
    with contextlib.suppress(Exception):  # upstream lets the delete's error out
        consumer.ack(first)
    assert consumer.message_refc == 1
    assert _next_message(consumer, tries=1) is None  # never receives again


def test_failed_ack_does_not_stop_the_consumer():
    from classifier_site.core.broker import AckSafeSQSConsumer

    consumer, first = _consumer_holding_one_unackable_message(AckSafeSQSConsumer)
    consumer.ack(first)  # the delete fails; the consumer carries on
    assert consumer.message_refc == 0
    second = _next_message(consumer)
    assert second is not None and second.args == (1,)
    consumer.ack(second)
    assert consumer.message_refc == 0
