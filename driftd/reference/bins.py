"""Quantile bins of the reference: the detectors' own edges and binning rule, so the counts a
profile stores are exactly the counts a window is compared with."""

from __future__ import annotations

from detectors import bin_counts, quantile_edges

__all__ = ["bin_counts", "quantile_edges"]
