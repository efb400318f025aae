"""`serve`'s stand-in for the SQS worker function's trigger: long-poll a queue of AWS
notifications (S3 -> SQS, SNS -> SQS, EventBridge -> SQS), record what they say, then delete them.

A message is deleted only after its events are recorded in the ledger, so a crash in between
means a redelivery, which the ledger collapses to the same event. A message that cannot be
parsed stays: SQS redelivers it until the queue's redrive policy moves it to its dead letters.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("mlops_hooks.sqs_ingest")


class SqsIngest:
    def __init__(
        self,
        queue_url: str,
        record: Callable[[Any], list[Any]],
        *,
        endpoint_url: str | None = None,
        wait_seconds: int = 5,
    ) -> None:
        import boto3

        self.queue_url = queue_url
        self.record = record  # parsed message body -> the recorded events
        self.wait_seconds = wait_seconds
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """One long poll; returns how many messages were recorded and deleted."""
        got = self._sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_seconds
        ).get("Messages", [])
        done = 0
        for message in got:
            try:
                self.record(json.loads(message["Body"]))
            except Exception as exc:  # left for redelivery and, in the end, the dead letters
                log.warning("SQS message %s not recorded: %s", message["MessageId"], exc)
                continue
            self._sqs.delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
            done += 1
        return done

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll_once()
                except Exception:
                    log.exception("polling %s failed; trying again", self.queue_url)
                    self._stop.wait(self.wait_seconds)

        self._thread = threading.Thread(target=loop, name="sqs-ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 5)
