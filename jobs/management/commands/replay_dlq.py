"""Move messages from a queue's dead-letter queue back to the queue.

A message lands in `<namespace>_<queue>_dlq` after SQS_MAX_RECEIVES deliveries (a worker
died on it each time, or it kept failing). Once the cause is fixed, replay it: the job
resumes where it stopped (done images are skipped).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from classifier_site.broker import QUEUE_DEFAULT, QUEUE_JOBS, QUEUE_PREDICT
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Move messages from <namespace>_<queue>_dlq back to <namespace>_<queue> (SQS only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue",
            choices=[QUEUE_JOBS, QUEUE_PREDICT, QUEUE_DEFAULT],
            default=QUEUE_JOBS,
            help="Which queue's dead letters to replay (default: %(default)s).",
        )
        parser.add_argument(
            "--limit", type=int, default=100, help="Most messages to move (default: 100)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would move; move nothing."
        )

    def handle(self, *args, queue: str, limit: int, dry_run: bool, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        broker: Any = dramatiq.get_broker()  # RedrivingSQSBroker when BROKER_URL=sqs://
        if not hasattr(broker, "dead_letter_queue_url"):
            raise CommandError("The broker is not SQS (BROKER_URL=sqs://): nothing to replay.")
        broker.declare_queue(queue)
        dlq_url = broker.dead_letter_queue_url(queue)
        queue_url = broker.queue_url(queue)
        sqs = broker.sqs.meta.client
        held: list[str] = []  # dry run: receipt handles to release at the end
        seen: set[str] = set()
        moved = 0
        try:
            while moved < limit:
                batch = sqs.receive_message(
                    QueueUrl=dlq_url,
                    MaxNumberOfMessages=min(10, limit - moved),
                    WaitTimeSeconds=1,
                    # Long enough to send and delete; a crash mid-way only delays the message.
                    VisibilityTimeout=60,
                ).get("Messages", [])
                batch = [m for m in batch if m["MessageId"] not in seen]
                if not batch:
                    break
                for message in batch:
                    seen.add(message["MessageId"])
                    if dry_run:
                        held.append(message["ReceiptHandle"])
                        self.stdout.write(f"would move {message['MessageId']}")
                    else:
                        # Send first, then delete: a failure in between duplicates the
                        # message, which the job handles; the reverse could lose it.
                        sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
                        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                    moved += 1
        finally:
            for handle in held:
                sqs.change_message_visibility(
                    QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0
                )
        verb = "would move" if dry_run else "moved"
        self.stdout.write(f"{verb} {moved} message(s) from {queue}'s dead-letter queue")
