"""Shadow comparison on the real broker: production (v3) and shadow (v4) predictions of the same
requests on one topic; while the shadow agrees nothing alerts, once it flips a tenth of the
decisions a ModelDivergence message reaches Slack, naming the comparison and the statistic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftd.app import Runtime
from driftd.config import parse_config
from tests.fakes.http_apis import FakeApis
from tests.integration.helpers import Background, produce, wait_until

pytestmark = pytest.mark.integration

WINDOW = 500


def _config(bootstrap: str, topic: str, api: FakeApis, outbox: Path) -> Any:
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["{bootstrap}"], group_id: g-{topic}, poll_timeout: 200ms,
         session_timeout: 6s, heartbeat_interval: 1s}}
http: {{host: 127.0.0.1, port: 0}}
streams:
  - name: predictions
    topic: {topic}
    fields: {{id: request_id, timestamp: ts, model_version: version, prediction: score}}
comparisons:
  - name: fraud-v4-shadow
    baseline: {{stream: predictions, model_version: v3}}
    candidate: {{stream: predictions, model_version: v4}}
    window: {WINDOW}
alerting:
  outbox_dir: {outbox}
  rules:
    - {{name: divergence, matchers: ['alertname="ModelDivergence"'], severity: warning}}
  route: {{receiver: slack, group_by: [monitor], group_wait: 0s, group_interval: 1s}}
  receivers:
    - {{name: slack, type: slack, channel: "#ml-canary", token: xoxb-test,
        base_url: "{api.slack_api_url}"}}
  delivery: {{initial_backoff: 0.2s, max_backoff: 1s}}
""",
        env={},
    )


def _predictions(first: int, n: int, flip: float, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(first, first + n):
        score = float(rng.beta(2, 5))
        shadow = 1.0 - score if rng.random() < flip else score
        for version, s in (("v3", score), ("v4", shadow)):
            out.append({"request_id": f"r{i}", "ts": 1_700_000_000_000 + i, "version": version,
                        "score": round(s, 6)})  # fmt: skip
    return out


def test_a_shadow_that_diverges_pages_and_one_that_agrees_does_not(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = make_topic("preds")
    with FakeApis() as api:
        runtime = Runtime(_config(kafka_bootstrap, topic, api, tmp_path / "outbox"))
        run = Background(runtime.run)

        def status() -> dict[str, Any]:
            return runtime.daemon.processor.status()["comparisons"]["fraud-v4-shadow"]  # type: ignore[no-any-return]

        try:
            produce(kafka_bootstrap, topic, _predictions(0, 6 * WINDOW, flip=0.0, seed=1))
            wait_until(lambda: status()["windows"] == 6, 60, "6 agreeing windows")
            assert not [r for r in api.requests if r.path == "/api/chat.postMessage"]
            produce(kafka_bootstrap, topic, _predictions(6 * WINDOW, 3 * WINDOW, 0.1, seed=2))
            wait_until(
                lambda: any(r.path == "/api/chat.postMessage" for r in api.requests),
                60,
                "a Slack message about the shadow",
            )
            # The message goes out at the first diverging window; the last ones may still be
            # on their way through the loop.
            wait_until(lambda: status()["pairs"] == 9 * WINDOW, 60, "every pair joined")
        finally:
            runtime.daemon.stop()
            run.join(60)
    posted = next(r for r in api.requests if r.path == "/api/chat.postMessage")
    text = str(posted.body)
    assert posted.body["channel"] == "#ml-canary"
    assert "ModelDivergence" in text and "fraud-v4-shadow" in text and "disagreement" in text
    final = status()
    assert final["pairs"] == 9 * WINDOW and final["pending"] == 0
    assert final["last"]["disagreement"]["state"] == "drift"
