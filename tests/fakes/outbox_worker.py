"""Deliver an outbox to a webhook in a separate process, so a test can SIGKILL it mid-way.

Usage: ``python -m tests.fakes.outbox_worker OUTBOX_FILE WEBHOOK_URL``; exits 0 once nothing is
pending.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from driftd.alerting.metrics import build_alerting_metrics
from driftd.alerting.outbox import Outbox
from driftd.alerting.receiver_config import WebhookReceiver
from driftd.alerting.transport import UrllibTransport
from driftd.alerting.webhook import WebhookNotifier
from driftd.alerting.worker import Backoff, DeliveryWorker


def main(outbox_file: str, url: str) -> int:
    outbox = Outbox(Path(outbox_file))
    receiver = WebhookReceiver(name="hook", type="webhook", url=url)
    worker = DeliveryWorker(
        outbox,
        {"hook": WebhookNotifier(receiver, UrllibTransport(timeout=5.0))},
        build_alerting_metrics(CollectorRegistry()),
        clock=time.time,
        backoff=Backoff(0.01, 0.05, random.Random(1)),
        max_age=3600.0,
    )
    while outbox.counts()["pending"]:
        worker.run_once()
        time.sleep(0.01)
    outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
