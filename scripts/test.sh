#!/usr/bin/env bash
# The test command: set up the venv, fetch the Kafka broker jars, lint, run every test (the
# Kafka client paths on both clients).
# Integration tests start a real Kafka broker (set DRIFTD_TEST_BOOTSTRAP=host:port to use yours)
# and a real schema registry (Apicurio, built by Maven; DRIFTD_TEST_SCHEMA_REGISTRY=url for yours).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/tools.sh
python -c "from tests.kafka.broker import fetch_jars; print('kafka broker jars:', fetch_jars())"
if [[ -z "${DRIFTD_TEST_SCHEMA_REGISTRY:-}" ]]; then
  python -c "from tests.registry.server import build; print('schema registry:', build())"
fi
ruff check .
ruff format --check .
python -m pytest "$@"
if [[ $# -eq 0 ]]; then
  # kafka.client is librdkafka unless set: the tests marked client_paths (consume, commit,
  # restart, kill -9, rebalance, outage) run once more on kafka-python, which stays supported.
  DRIFTD_TEST_KAFKA_CLIENT=kafka-python python -m pytest -m client_paths tests/integration
fi
