"""`driftd demo` runs the whole pipeline and reports both injected drifts, and nothing else."""

from __future__ import annotations

import io

from driftd.demo import Plan, detected_both, run_demo


def test_demo_reports_both_injected_drifts_without_false_alarms() -> None:
    out = io.StringIO()
    timeline = run_demo(port=0, rate=1e9, out=out)
    text = out.getvalue()
    plan = Plan()
    assert detected_both(timeline, plan), text
    # The covariate shift is caught within two windows, on the shifted features only.
    first = min(timeline.first_data_drift.values())
    assert first <= plan.shift_start + 2 * plan.window, text
    assert set(timeline.first_data_drift) == {"amount", "country", "score"}, text
    assert timeline.data_drift_before_shift == [], text
    assert timeline.concept_before_change == [], text
    # Alerts went through the real alerting pipeline to the webhook, and resolved.
    assert any("FIRING   DataDrift" in a for a in timeline.alerts), text
    assert any("FIRING   ConceptDrift" in a for a in timeline.alerts), text
    assert any("RESOLVED DataDrift" in a for a in timeline.alerts), text
    assert "summary" in text and "NOT detected" not in text
