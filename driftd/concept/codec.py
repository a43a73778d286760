"""Class labels to float codes, so the join's numeric columns can hold any class label.

Predictions and labels of a classifier may be ints, bools or strings, and the two streams may
not agree on which (``1``, ``true``, ``"1"``). Each value is reduced to a canonical text (a bool
to ``"0"``/``"1"``, an integral number to its digits, a string as is) and the text to a small
integer code, in order of first appearance; the positive class always gets code 0. The
vocabulary is bounded; values past it, and missing values, become NaN, which never equals
anything, so they count as errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MAX_CLASSES = 10_000


def canonical(value: object) -> str | None:
    """The text a class value is known by; None for a missing value."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return None
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, str):
        return value
    raise TypeError(f"a class label must be a str, int, float or bool, got {type(value).__name__}")


class ClassCodec:
    """Maps class values to float32 codes and back.

    Examples
    --------
    >>> from driftd.concept.codec import ClassCodec
    >>> codec = ClassCodec(positive="fraud")
    >>> codec.encode(["ok", "fraud", "ok", None]).tolist()
    [1.0, 0.0, 1.0, nan]
    >>> codec.encode([True, 1, "1"]).tolist()
    [2.0, 2.0, 2.0]
    """

    def __init__(self, positive: object, max_classes: int = MAX_CLASSES) -> None:
        key = canonical(positive)
        if key is None:
            raise ValueError("positive_class cannot be missing")
        self.max_classes = max_classes
        self.overflow = 0
        self._codes: dict[str, int] = {key: 0}

    @property
    def classes(self) -> list[str]:
        """The known classes, in code order."""
        return list(self._codes)

    def encode(self, values: Sequence[object] | np.ndarray) -> np.ndarray:
        """The code of each value (NaN for missing values and for classes past the bound)."""
        if isinstance(values, np.ndarray):
            if values.ndim != 1:
                raise ValueError(f"class values must be one-dimensional, got {values.shape}")
            if values.dtype.kind in "iubf":
                return self._encode_numeric(values)
            items = values.tolist()
        else:
            items = list(values)
            if items and set(map(type, items)) <= {int, bool, float}:
                return self._encode_numeric(np.array(items))
        return np.array([self._code(canonical(v)) for v in items], np.float32).reshape(-1)

    def _encode_numeric(self, array: np.ndarray) -> np.ndarray:
        # Vectorised: each distinct value is looked up once.
        uniques, inverse = np.unique(array, return_inverse=True)
        codes = np.array([self._code(canonical(u)) for u in uniques.tolist()], np.float32)
        return codes[inverse.reshape(-1)] if codes.size else np.empty(0, np.float32)

    def _code(self, key: str | None) -> float:
        if key is None:
            return np.nan
        code = self._codes.get(key)
        if code is None:
            if len(self._codes) >= self.max_classes:
                self.overflow += 1
                return np.nan
            code = self._codes[key] = len(self._codes)
        return float(code)

    def state(self) -> dict[str, object]:
        """JSON-able state for :meth:`load_state`."""
        return {"classes": self.classes, "overflow": self.overflow}

    def load_state(self, state: dict[str, object]) -> None:
        """Restore the vocabulary saved by :meth:`state` (codes must keep their meaning)."""
        classes = state["classes"]
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise ValueError("classes must be a list of strings")
        if classes[:1] != self.classes[:1]:
            raise ValueError(
                f"saved positive class {classes[:1]} differs from the configured {self.classes[:1]}"
            )
        self._codes = {c: i for i, c in enumerate(classes)}
        self.overflow = int(state["overflow"])  # type: ignore[call-overload]
