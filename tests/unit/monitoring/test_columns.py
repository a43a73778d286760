"""Schema checks while converting raw JSON columns: exact anomaly counts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from driftd.monitoring.columns import CategoricalColumn, NumericColumn, SchemaCounts
from driftd.reference import load_profile

PROFILE = load_profile(Path(__file__).resolve().parents[2] / "data" / "fraud.profile")


def test_numeric_fast_path_and_anomalies() -> None:
    col = NumericColumn(PROFILE.features["age"])  # reference range [18, 86]
    values, anomalies = col.convert([20, 30.5, None, 17, 99, 40])
    counts = SchemaCounts.of(anomalies)
    np.testing.assert_array_equal(np.isnan(values), [False, False, True, False, False, False])
    assert counts == SchemaCounts(missing=1, out_of_range=2)


def test_numeric_wrong_types_and_infinities() -> None:
    col = NumericColumn(PROFILE.features["age"])
    values, anomalies = col.convert([20, "thirty", True, [1], {"a": 1}, math.inf, -math.inf, 50])
    counts = SchemaCounts.of(anomalies)
    assert counts == SchemaCounts(wrong_type=4, not_finite=2)
    assert values[0] == 20 and values[-1] == 50
    assert np.isnan(values[1:7]).all()


def test_numeric_nan_is_not_finite_not_missing() -> None:
    col = NumericColumn(PROFILE.features["age"])
    _, anomalies = col.convert([math.nan, None, 30])
    counts = SchemaCounts.of(anomalies)
    assert counts == SchemaCounts(missing=1, not_finite=1)


def test_categorical_codes_unseen_and_wrong_types() -> None:
    feat = PROFILE.features["device"]
    col = CategoricalColumn(feat)
    domain = feat.categorical.domain
    codes, anomalies = col.convert(["ios", "web", "tv", None, 3.5, ["x"], "android", "ios"])
    counts = SchemaCounts.of(anomalies)
    other = len(domain)
    assert codes.tolist() == [
        domain.index("ios"),
        domain.index("web"),
        other,
        -1,
        -1,
        -1,
        domain.index("android"),
        domain.index("ios"),
    ]
    assert counts == SchemaCounts(missing=1, wrong_type=2, unseen_category=1)


def test_known_long_tail_categories_are_not_unseen() -> None:
    feat = PROFILE.features["merchant"]
    col = CategoricalColumn(feat)
    tail = feat.categorical.known_other[0]
    codes, anomalies = col.convert([tail, "never-seen-merchant", feat.categorical.domain[0]])
    counts = SchemaCounts.of(anomalies)
    assert codes.tolist() == [len(feat.categorical.domain), len(feat.categorical.domain), 0]
    assert counts == SchemaCounts(unseen_category=1)


def test_integer_beyond_float_range_is_a_wrong_type_not_a_crash() -> None:
    col = NumericColumn(PROFILE.features["age"])
    values, anomalies = col.convert([30, 10**400, -(10**400)])
    counts = SchemaCounts.of(anomalies)
    assert counts == SchemaCounts(wrong_type=2)
    assert values[0] == 30 and np.isnan(values[1:]).all()


def test_each_event_has_one_code_in_its_own_row() -> None:
    col = NumericColumn(PROFILE.features["age"])  # reference range [18, 86]
    _, codes = col.convert([None, "x", math.inf, 5, 30, 10**400])
    assert codes.tolist() == [1, 2, 3, 4, 0, 2]  # missing, wrong, not finite, range, ok, wrong
    cat = CategoricalColumn(PROFILE.features["device"])
    _, codes = cat.convert(["ios", None, 2.5, "tv"])
    assert codes.tolist() == [0, 1, 2, 5]
