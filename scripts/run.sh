#!/usr/bin/env bash
# The main job: set up the venv and run `driftd demo` - the whole pipeline (decoding, windows,
# detectors, calibrated thresholds, label join, river detectors, alerting) on a synthetic
# stream with a covariate shift and a concept change, no Kafka needed. Extra arguments go to
# `driftd demo` (e.g. --port 0, --rate 5000 to watch /metrics while it runs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec driftd demo "$@"
