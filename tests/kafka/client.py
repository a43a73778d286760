"""Which Kafka client the tests' daemons use: ``DRIFTD_TEST_KAFKA_CLIENT``.

``kafka-python`` or ``librdkafka`` makes that the default of ``kafka.client`` for every config
a test builds without naming one, in the test process (conftest) and in the ``driftd run``
subprocesses (started through ``python -m tests.kafka.client``). scripts/test.sh runs the
Kafka suites once per client.
"""

from __future__ import annotations

import os
import sys

CLIENT = os.environ.get("DRIFTD_TEST_KAFKA_CLIENT") or None


def apply(client: str | None = CLIENT) -> None:
    """Make ``client`` the default of ``kafka.client`` in this process."""
    if not client:
        return
    from driftd.config import models

    models.KafkaConfig.model_fields["client"].default = client
    # Rebuilt from the inside out: the top-level model keeps its own copy of the schema.
    models.KafkaConfig.model_rebuild(force=True)
    models.DriftdConfig.model_rebuild(force=True)


def driftd_command() -> list[str]:
    """The argv prefix that runs driftd's CLI with the tests' client applied."""
    return [sys.executable, "-m", "tests.kafka.client"]


if __name__ == "__main__":
    apply()
    from driftd.cli import main

    raise SystemExit(main(sys.argv[1:]))
