"""The shipped Prometheus rules pass promtool's checks and their unit tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.tools import find

pytestmark = pytest.mark.integration

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@pytest.fixture
def promtool() -> str:
    binary = find("DRIFTD_TEST_PROMTOOL", "promtool")
    if binary is None:
        pytest.skip("no promtool (scripts/tools.sh installs the prometheus package)")
    return binary


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=RULES, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rules_are_valid(promtool: str) -> None:
    out = _run(promtool, "check", "rules", "driftd-rules.yml")
    assert "SUCCESS: 16 rules found" in out, out


def test_rules_fire_and_resolve_as_their_unit_tests_say(promtool: str) -> None:
    # driftd-rules.test.yml: data drift pending, firing, resolved; concept drift from the
    # detector counter; down, not ready, outbox backlog, failing notifications, checkpoints,
    # reloads and lag, each at the minute it should fire.
    assert "SUCCESS" in _run(promtool, "test", "rules", "driftd-rules.test.yml")
