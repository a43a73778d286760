"""Alert summaries and log lines say what crossed which limit, the right way round."""

from __future__ import annotations

import math

import pytest

from driftd.alerting.config import AlertRule
from driftd.alerting.lifecycle import Lifecycle
from driftd.alerting.wording import describe
from driftd.records import State, Verdict
from tests.unit.alerting.test_alert_lifecycle import MakeVerdict

T0 = 1_700_000_000.0


def _v(statistic: str, value: float, limit: float, state: State, kind: str, **kw: str) -> Verdict:
    return Verdict("fraud", kw.get("feature", ""), statistic, value, limit, state, kind=kind,
                   detail=kw.get("detail", ""))  # fmt: skip


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (_v("ks", 0.31, 0.05, State.DRIFT, "data", feature="amount"),
         "ks of amount is 0.31, above its limit 0.05"),
        (_v("ks", 0.02, 0.05, State.OK, "data", feature="amount"),
         "ks of amount is 0.02, within its limit 0.05"),
        (_v("accuracy", 0.78, 0.8548, State.DRIFT, "concept"),
         "accuracy of the model fell to 0.78, below its limit 0.8548"),
        (_v("rmse", 3.2, 2.5, State.DRIFT, "concept"),
         "rmse of the model rose to 3.2, above its limit 2.5"),
        (_v("accuracy", 0.9, 0.8548, State.OK, "concept"),
         "accuracy of the model is 0.9, within its limit (at least 0.8548)"),
        (_v("adwin", 0.29, 0.12, State.DRIFT, "concept"),
         "adwin detected a change in the model's error: 0.29 over the latest labelled "
         "predictions, 0.12 before"),
        (_v("adwin", 0.11, math.nan, State.OK, "concept"),
         "adwin: no change in the model's error (mean 0.11 this window)"),
        (_v("schema", 0.072, 0.05, State.DRIFT, "schema", feature="age", detail="missing=360"),
         "schema anomalies in age: 7.20% of the window's events (missing=360), above the "
         "allowed 5.00%"),
        (_v("psi", 0.4, 0.2, State.DRIFT, "prediction"),
         "psi of the prediction is 0.4, above its limit 0.2"),
    ],
)  # fmt: skip
def test_describe(verdict: Verdict, expected: str) -> None:
    text = describe(verdict)
    assert text == expected
    assert " of  " not in text and "nan" not in text


def test_the_resolve_tells_the_current_value(make_verdict: MakeVerdict) -> None:
    life = Lifecycle([AlertRule(name="drift")], None, T0)
    [firing] = life.observe(make_verdict(value=0.3), T0)
    assert "is 0.3, above" in firing.annotation_map["summary"]
    [resolved] = life.observe(make_verdict(drift=False, value=0.05), T0 + 60)
    assert resolved.status == "resolved"
    assert resolved.annotation_map["value"] == "0.05"
    assert "is 0.05, within its limit 0.2" in resolved.annotation_map["summary"]
