"""Raw JSON columns to typed arrays, counting schema violations against the profile on the way.

A numeric column becomes float64 with NaN where the value is unusable; a categorical column
becomes int32 codes into the profile's domain, with the last code for "other" (unseen) and -1
for missing. Each conversion also returns one anomaly code per event (``OK``, ``MISSING``, ...),
so data quality costs no second pass and every anomaly is counted in the window that holds its
event, however the stream was split into poll batches.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftd.reference.profile import FeatureProfile

_NUMERIC_TYPES = {int, float, type(None)}
# An integer at least this large cannot be a float: it is counted as a wrong type.
_FLOAT_MAX = int(np.finfo(np.float64).max)
_CATEGORY_TYPES = {str, int, type(None)}
ANOMALIES = ("missing", "wrong_type", "not_finite", "out_of_range", "unseen_category")
# Per-event anomaly codes: 0 is a clean value, i + 1 is ANOMALIES[i].
OK, MISSING, WRONG_TYPE, NOT_FINITE, OUT_OF_RANGE, UNSEEN = range(6)


@dataclass(frozen=True, slots=True)
class SchemaCounts:
    """Schema anomalies of one feature in one batch (or window, once added up)."""

    missing: int = 0
    wrong_type: int = 0
    not_finite: int = 0
    out_of_range: int = 0
    unseen_category: int = 0

    def __add__(self, other: SchemaCounts) -> SchemaCounts:
        return SchemaCounts(
            self.missing + other.missing,
            self.wrong_type + other.wrong_type,
            self.not_finite + other.not_finite,
            self.out_of_range + other.out_of_range,
            self.unseen_category + other.unseen_category,
        )

    def as_dict(self) -> dict[str, int]:
        """Counts by anomaly name."""
        return {name: getattr(self, name) for name in ANOMALIES}

    @property
    def total(self) -> int:
        """Events with any anomaly (each event has at most one)."""
        return (
            self.missing
            + self.wrong_type
            + self.not_finite
            + self.out_of_range
            + self.unseen_category
        )

    @classmethod
    def of(cls, codes: np.ndarray) -> SchemaCounts:
        """Counts of per-event anomaly codes (one feature's column)."""
        counts = np.bincount(codes, minlength=len(ANOMALIES) + 1)
        return cls(*(int(c) for c in counts[1 : len(ANOMALIES) + 1]))


class NumericColumn:
    """Converts one numeric feature's raw values against its reference range."""

    def __init__(self, feature: FeatureProfile) -> None:
        assert feature.numeric is not None
        self.name = feature.name
        self.low = feature.numeric.minimum
        self.high = feature.numeric.maximum

    def convert(self, raw: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """float64 values (NaN where missing, wrong type or not finite) and per-event codes."""
        codes = np.zeros(len(raw), dtype=np.uint8)
        wrong: np.ndarray | None = None
        if set(map(type, raw)) <= _NUMERIC_TYPES:
            # Fast path: ints, floats and None convert in C; None becomes NaN. (bools are ints
            # to numpy, which is why the types are checked first: a bool is a schema error.)
            try:
                values = np.array(raw, dtype=np.float64)
            except OverflowError:  # an integer beyond float range: the slow path names it
                values, wrong = self._slow(raw)
        else:
            values, wrong = self._slow(raw)
        nan = np.isnan(values)
        if nan.any() or wrong is not None:
            missing = np.fromiter((v is None for v in raw), dtype=bool, count=len(raw))
            codes[nan] = NOT_FINITE
            codes[missing] = MISSING
            if wrong is not None:
                codes[wrong] = WRONG_TYPE
        infinite = np.isinf(values)
        if infinite.any():
            codes[infinite] = NOT_FINITE
            values[infinite] = np.nan
        with np.errstate(invalid="ignore"):
            out = (values < self.low) | (values > self.high)
        codes[out] = OUT_OF_RANGE
        return values, codes

    def convert_floats(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same for a column decoded typed (``DecodedBatch.numbers``): NaN where missing,
        finite numbers elsewhere; what ``convert`` gives for its values as a list."""
        codes = np.zeros(values.size, dtype=np.uint8)
        codes[np.isnan(values)] = MISSING
        with np.errstate(invalid="ignore"):
            out = (values < self.low) | (values > self.high)
        codes[out] = OUT_OF_RANGE
        return values, codes

    @staticmethod
    def _slow(raw: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        values = np.empty(len(raw), dtype=np.float64)
        wrong = np.zeros(len(raw), dtype=bool)
        for i, v in enumerate(raw):
            if v is None:
                values[i] = math.nan
            elif isinstance(v, float) or (
                isinstance(v, int) and not isinstance(v, bool) and abs(v) < _FLOAT_MAX
            ):
                values[i] = float(v)
            else:
                values[i] = math.nan
                wrong[i] = True
        return values, wrong


class CategoricalColumn:
    """Converts one categorical feature's raw values to codes of the reference domain."""

    def __init__(self, feature: FeatureProfile) -> None:
        cat = feature.categorical
        assert cat is not None
        self.name = feature.name
        self.other = len(cat.domain)
        # Conversion marks unseen values with other + 1, then folds them into "other".
        self._unseen = self.other + 1 if cat.complete else self.other
        index: dict[Any, int] = {}
        for code, category in [*enumerate(cat.domain), *((self.other, k) for k in cat.known_other)]:
            index[category] = code
            # Categories read from CSV/Parquet are kept as text; JSON may carry them as numbers.
            if category.lstrip("-").isdigit():
                index.setdefault(int(category), code)
            if category in {"true", "false"}:
                index.setdefault(category == "true", code)
        index[None] = -1
        self._index = index

    def convert(self, raw: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """int32 codes (-1 for missing or wrong type, ``other`` for unseen) and per-event
        anomaly codes."""
        unseen_code = self._unseen
        anomalies = np.zeros(len(raw), dtype=np.uint8)
        if set(map(type, raw)) <= _CATEGORY_TYPES:
            # Fast path, all in C: the index maps None to -1 and anything unknown to unseen.
            lookup = map(self._index.get, raw, itertools.repeat(unseen_code))
            codes = np.fromiter(lookup, dtype=np.int32, count=len(raw))
            anomalies[codes == -1] = MISSING
        else:  # floats, lists or objects where a category (text or int) belongs
            codes, wrong = self._slow(raw)
            anomalies[codes == -1] = MISSING
            anomalies[wrong] = WRONG_TYPE
        if unseen_code != self.other:
            is_unseen = codes == unseen_code
            anomalies[is_unseen] = UNSEEN
            codes[is_unseen] = self.other
        return codes, anomalies

    def _slow(self, raw: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        codes = np.empty(len(raw), dtype=np.int32)
        wrong = np.zeros(len(raw), dtype=bool)
        for i, v in enumerate(raw):
            if v is None:
                codes[i] = -1
            elif isinstance(v, str | int):
                codes[i] = self._index.get(v, self._unseen)
            else:
                codes[i] = -1
                wrong[i] = True
        return codes, wrong


class VectorColumn:
    """Converts one vector feature's raw values (lists of ``dim`` numbers) to float rows."""

    def __init__(self, feature: FeatureProfile) -> None:
        assert feature.vector is not None
        self.name = feature.name
        self.dim = feature.vector.dim

    def convert(self, raw: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """float64 rows (n x dim, NaN rows where unusable) and per-event anomaly codes: a
        value that is not a list of ``dim`` numbers is a wrong type, one with a non-finite
        number is not finite."""
        n = len(raw)
        values = np.full((n, self.dim), np.nan)
        codes = np.zeros(n, dtype=np.uint8)
        dim = self.dim
        for i, v in enumerate(raw):
            if v is None:
                codes[i] = MISSING
            elif type(v) is not list or len(v) != dim:
                codes[i] = WRONG_TYPE
            elif set(map(type, v)) <= _FLOAT_OR_INT:
                try:
                    values[i] = v
                except OverflowError:  # an integer beyond float range
                    codes[i] = WRONG_TYPE
            else:  # booleans, strings, nulls or objects among the numbers
                codes[i] = WRONG_TYPE
        bad = ~np.isfinite(values).all(axis=1) & (codes == OK)
        codes[bad] = NOT_FINITE
        values[codes != OK] = np.nan
        return values, codes


_FLOAT_OR_INT = {int, float}
