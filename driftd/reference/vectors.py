"""Vector features (embeddings) at reference build: a bounded, uniform sample of their rows.

A vector column (a list of floats per row: JSONL lists, Parquet/Arrow list columns) is kept as
a reservoir sample, never whole: a million 1,024-dimension embeddings are 8 GB, the reservoir
at most ``2 x VECTOR_VALUES`` floats. The profile stores half of it as the feature's joint
sample (``VECTOR_VALUES`` floats, 16 MB: 1,953 rows of 1,024 dimensions) and the PCA basis is
fitted on the other half, so the sample's reconstruction errors are held out. The basis keeps
at most ``MAX_COMPONENTS`` components, which bounds the cost of scoring a window.

A row of another length than the first row's, or with a value that is not finite, counts as
missing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftd.errors import ProfileError
from driftd.reference.joint import build_joint
from driftd.reference.profile import FeatureProfile, VectorSummary
from driftd.reference.streaming import Reservoir

VECTOR_VALUES = 2_000_000
MAX_COMPONENTS = 32
MAX_DIM = 8192


class VectorReservoir:
    """A uniform sample of one vector column's complete rows, filled batch by batch."""

    def __init__(self, name: str, seed: int = 0) -> None:
        self.name = name
        self.dim: int | None = None
        self.missing = 0
        self._reservoir: Reservoir | None = None
        self._rng = np.random.default_rng(seed)

    def add(self, array: pa.Array) -> None:
        """Take one batch's values of the column."""
        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.add(chunk)
            return
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        lengths = np.nan_to_num(np.asarray(lengths, dtype=np.float64), nan=0.0).astype(np.int64)
        if self.dim is None:
            first = np.flatnonzero(lengths > 0)
            if first.size == 0:
                self.missing += len(array)
                return
            self.dim = int(lengths[first[0]])
            if self.dim < 2 or self.dim > MAX_DIM:
                raise ProfileError(
                    f"vector column {self.name!r} has {self.dim} dimensions; driftd reads "
                    f"vectors of 2 to {MAX_DIM}"
                )
            capacity = max(400, 2 * (VECTOR_VALUES // self.dim))
            self._reservoir = Reservoir(capacity, self.dim, self._rng)
        ok = lengths == self.dim
        rows = np.empty((0, self.dim))
        if ok.any():
            flat = pc.list_flatten(array.filter(pa.array(ok)))
            values = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float64)
            rows = values.reshape(-1, self.dim)
            rows = rows[np.isfinite(rows).all(axis=1)]
        self.missing += len(array) - rows.shape[0]
        assert self._reservoir is not None
        self._reservoir.add(rows)

    @property
    def count(self) -> int:
        """Usable rows seen."""
        return 0 if self._reservoir is None else self._reservoir.seen

    @property
    def kept(self) -> np.ndarray:
        """The sampled rows."""
        return np.empty((0, 0)) if self._reservoir is None else self._reservoir.values()

    def summary(
        self, sample_size: int, variance: float, rng: np.random.Generator
    ) -> FeatureProfile:
        """The feature's profile: a joint sample of up to ``sample_size`` rows (and at most
        ``VECTOR_VALUES`` floats) with its PCA basis."""
        if self.dim is None:
            raise ProfileError(f"vector column {self.name!r} holds no vector")
        kept = self.kept
        take = min(sample_size or 10_000, VECTOR_VALUES // self.dim)
        names = [str(i) for i in range(self.dim)]
        joint = build_joint(names, list(kept.T), take, variance, rng, max_components=MAX_COMPONENTS)
        if joint is None:
            raise ProfileError(
                f"vector column {self.name!r} has {kept.shape[0]} usable rows; at least "
                f"{max(8 * MAX_COMPONENTS, 200)} are needed to fit its reference"
            )
        return FeatureProfile(
            self.name,
            "vector",
            self.count,
            self.missing,
            vector=VectorSummary(self.dim, joint),
        )
