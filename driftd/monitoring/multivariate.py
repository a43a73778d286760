"""Multivariate statistics over a window's complete rows, and their null models.

- ``pca``: the mean PCA reconstruction error of the window's rows (``detectors.pca``). Its
  null is the window mean minus the reference mean of the held-out reconstruction errors, both
  means of draws from the held-out errors' distribution, whose tail comes from the
  Lugannani-Rice saddlepoint (``detectors.saddlepoint``): the limit is the reference mean plus
  that quantile. The reference's own sampling error is part of the null, as it is for the
  simulated histogram statistics. The saddlepoint's error is of order 1/n relative to the
  tail probability; checked against simulation in the tests and ``bench/calibration.py``.
- ``classifier``: the held-out AUC of a small model telling window rows from reference rows
  (``detectors.classifier``); under no drift a Mann-Whitney statistic, whose normal limit is
  conservative.

Both read rows where every feature of the joint sample is present; rows with a missing or
non-finite value are left out (and counted by the schema checks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.classifier import ClassifierTwoSample, auc_quantile
from detectors.saddlepoint import mean_difference_quantile
from driftd.config.models import MULTIVARIATE
from driftd.errors import ConfigError
from driftd.monitoring.nulls import MEMO_LIMIT
from driftd.monitoring.statistics import FeatureStatistic
from driftd.reference.joint import basis, held_out
from driftd.reference.profile import JointSummary


class PCANull:
    """Upper quantiles of a window's mean reconstruction error under no drift."""

    def __init__(self, errors: np.ndarray) -> None:
        self.errors = np.asarray(errors, dtype=np.float64)
        self.reference_mean = float(self.errors.mean())
        self._memo: dict[tuple[int, float], float] = {}

    def quantile(self, n: int, alpha: float) -> float:
        key = (n, alpha)
        limit = self._memo.get(key)
        if limit is None:
            shift = mean_difference_quantile(self.errors, n, self.errors.size, alpha)
            limit = self.reference_mean + shift
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = limit
        return limit


@dataclass(frozen=True)
class AUCNull:
    """Upper quantiles of the held-out AUC of a window of n rows under no drift."""

    reference_held_out: int

    def quantile(self, n: int, alpha: float) -> float:
        return auc_quantile(max(1, n - n // 2), self.reference_held_out, alpha)


def build_multivariate(
    joint: JointSummary, name: str, feature: str = MULTIVARIATE
) -> FeatureStatistic:
    """The multivariate statistic ``name`` over the features of ``joint`` (the dimensions of
    a vector ``feature``)."""
    if name == "pca":
        pca = basis(joint)
        errors = pca.errors(held_out(joint))
        if errors.size < 50 or float(errors.std()) <= 0.0:
            raise ConfigError(
                f"{feature}: statistic pca: the profile's joint sample holds too few held-out rows "
                f"({errors.size}); rebuild it with a larger joint_sample_size"
            )
        return FeatureStatistic(feature, name, pca.score, PCANull(errors))
    if name == "classifier":
        test = ClassifierTwoSample(joint.sample)
        return FeatureStatistic(feature, name, test.score, AUCNull(test.held_out))
    raise ConfigError(f"unknown multivariate statistic {name!r}")
