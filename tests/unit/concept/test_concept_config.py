"""The concept config: its documented YAML example, defaults, and errors named by key."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from pydantic import ValidationError

import driftd.concept.config as config_module
from driftd.concept.config import ConceptConfig, JoinConfig
from driftd.concept.sizing import table_bytes


def docstring_example() -> dict:
    doc = config_module.__doc__ or ""
    block = doc.split("(every key optional)::\n", 1)[1].split("\n\n", 1)[0]
    return yaml.safe_load(textwrap.dedent(block))


def test_the_documented_example_is_valid() -> None:
    config = ConceptConfig.model_validate(docstring_example()["concept"])
    names = [d.name or d.type for d in config.detectors]
    assert names == ["adwin", "adwin_brier", "ph_error", "ddm"]
    assert config.performance.max_drop["f1"].relative == 0.10
    assert config.join.ttl == 86400.0


def test_defaults() -> None:
    config = ConceptConfig()
    assert config.metrics == ("accuracy", "precision", "recall", "f1", "auc")
    assert [d.type for d in config.detectors] == ["adwin"]
    assert ConceptConfig(task="regression").metrics == ("mae", "rmse")


def test_the_byte_cap_lowers_the_pending_cap() -> None:
    roomy = JoinConfig(max_pending=1000)
    assert roomy.prediction_capacity == 1000
    tight = JoinConfig(max_pending=10**9, max_memory_bytes=1 << 20, max_early_labels=1000)
    cap = tight.prediction_capacity
    assert 0 < cap < 10**9
    assert table_bytes(cap) + tight.early_label_bytes <= 1 << 20
    assert table_bytes(cap + cap // 10) + tight.early_label_bytes > 1 << 20  # and is not timid


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"join": {"ttl": 0}}, "join.ttl"),
        ({"join": {"tll": 5}}, "join.tll"),  # unknown keys are rejected
        ({"join": {"initial_capacity": 1000}}, "power of two"),
        ({"join": {"max_memory_bytes": 4096}}, "leaves no room"),
        ({"task": "regression", "detectors": [{"type": "ddm"}]}, "needs task classification"),
        ({"task": "regression", "detectors": [{"type": "adwin", "error": "zero_one"}]}, "error"),
        ({"detectors": [{"type": "adwin"}, {"type": "adwin"}]}, "second detector named"),
        ({"detectors": [{"type": "kswin"}]}, "kswin"),
        ({"detectors": [{"type": "eddm", "alpha": 0.5, "beta": 0.9}]}, "alpha"),
        ({"detectors": [{"type": "ddm", "drift_threshold": 1.0}]}, "drift_threshold"),
        ({"performance": {"metrics": ["mae"]}}, "do not apply"),
        ({"performance": {"max_drop": {"auc": {"absolute": 0.1, "relative": 0.1}}}}, "exactly one"),
        ({"performance": {"metrics": ["f1"], "max_drop": {"auc": {"absolute": 0.1}}}}, "max_drop"),
        ({"performance": {"window": 1}}, "performance.window"),
    ],
)
def test_errors_name_the_key(section: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ConceptConfig.model_validate(section)


def test_models_are_frozen() -> None:
    config = ConceptConfig()
    with pytest.raises(ValidationError):
        config.task = "regression"  # type: ignore[misc]
