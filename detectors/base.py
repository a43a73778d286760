"""The contract every detector satisfies, and the record it returns.

A detector is built once from reference data and then scores windows; it keeps no state between
windows, so one instance can be shared by threads and pickled to another process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

__all__ = ["CATEGORICAL", "NUMERIC", "Detector", "Kind", "Score"]

Kind = Literal["numeric", "categorical"]
#: Built from a reference sample of floats: ``cls(reference, **params)``; scores float windows.
NUMERIC: Kind = "numeric"
#: Built from reference codes: ``cls(reference_codes, n_categories, **params)``; scores codes.
CATEGORICAL: Kind = "categorical"


@dataclass(frozen=True, slots=True)
class Score:
    """The value of one statistic on one window.

    Parameters
    ----------
    statistic : float
        The statistic (KS distance, PSI, L-infinity distance, ...). Larger means more drift.
    pvalue : float or None
        The p-value under "same distribution as the reference", when the test defines one.
    worst_bin : int or None
        The bin or category that contributes most to the statistic, when that is defined.
    worst_label : str or int or None
        The label of ``worst_bin`` when the detector knows its category labels.

    Examples
    --------
    >>> Score(0.25, pvalue=0.01)
    Score(statistic=0.25, pvalue=0.01, worst_bin=None, worst_label=None)
    """

    statistic: float
    pvalue: float | None = None
    worst_bin: int | None = None
    worst_label: str | int | None = None


@runtime_checkable
class Detector(Protocol):
    """Scores a window against the reference the detector was built from.

    ``kind`` tells a caller how to build one generically: a ``"numeric"`` detector is
    ``cls(reference_sample, **params)`` and scores float windows; a ``"categorical"`` detector is
    ``cls(reference_codes, n_categories, **params)`` and scores integer code windows (see
    :class:`detectors.CategoricalEncoder`).
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]

    def score(self, window: np.ndarray) -> Score:
        """Return the statistic of ``window`` against the reference."""
        ...
