"""Exceptions raised by :mod:`detectors`.

Every error is a subclass of :class:`DetectorError`, and also of the built-in exception a caller
would expect (``ValueError`` or ``TypeError``), so ``except ValueError`` keeps working::

    DetectorError
    ├── DetectorInputError (ValueError)       bad values: empty, NaN, wrong shape, out of range
    │   └── IncompatibleSummaryError          merging or scoring summaries built on other bins
    └── DetectorTypeError (TypeError)         wrong kind of input: strings where numbers belong

Messages name the offending parameter, e.g. ``"window must not be empty"``.
"""

from __future__ import annotations

__all__ = [
    "DetectorError",
    "DetectorInputError",
    "DetectorTypeError",
    "IncompatibleSummaryError",
]


class DetectorError(Exception):
    """Root of every error raised by :mod:`detectors`."""


class DetectorInputError(DetectorError, ValueError):
    """An argument has the right type but an unusable value (empty, NaN, bad shape or range)."""


class IncompatibleSummaryError(DetectorInputError):
    """Two summaries (or a summary and a detector) use different bins and cannot be combined."""


class DetectorTypeError(DetectorError, TypeError):
    """An argument has the wrong type or dtype."""
