from __future__ import annotations

import base64

import boto3
import dramatiq
import pytest

from images.tests.factories import ImageFactory


@pytest.fixture(autouse=True)
def _weights(inference_available):
    """Every jobs test resolves model versions against the tiny test checkpoints, which a
    worker has reported it can run."""
    return inference_available


@pytest.fixture
def images(user):
    return [ImageFactory(stored=True, owner=user, seed=i) for i in range(3)]


@pytest.fixture
def other_image(other_user):
    return ImageFactory(stored=True, owner=other_user, seed=99)


class Queues:
    """The session's SQS queues, seen from the test process (real protocol, moto)."""

    def __init__(self, moto_url: str) -> None:
        import jobs.tasks  # noqa: F401 - declares the actors' queues on the broker

        self.broker = dramatiq.get_broker()
        self.client = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1")

    def url(self, queue: str) -> str:
        return self.broker.queue_url(queue)

    def dlq_url(self, queue: str) -> str:
        return self.broker.dead_letter_queue_url(queue)

    def purge(self, *queues: str) -> None:
        # Receive + delete: PurgeQueue is limited to once a minute per queue.
        for queue in queues:
            for url in (self.url(queue), self.dlq_url(queue)):
                while True:
                    resp = self.client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                    messages = resp.get("Messages", [])
                    if not messages:
                        break
                    for msg in messages:
                        self.client.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])

    def dead_args(self, queue: str) -> list:
        """The first argument (a shard id) of the messages in the queue's dead-letter
        queue (left in place)."""
        found = []
        for _ in range(3):
            resp = self.client.receive_message(
                QueueUrl=self.dlq_url(queue), MaxNumberOfMessages=10, VisibilityTimeout=0
            )
            for msg in resp.get("Messages", []):
                decoded = dramatiq.Message.decode(base64.b64decode(msg["Body"]))
                found.append(decoded.args[0])
        return sorted(set(found))


@pytest.fixture
def queues(moto_url):
    q = Queues(moto_url)
    q.purge("inference", "predict")
    return q
