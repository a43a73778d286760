"""The joint reference of the numeric features: a sample of complete rows and a PCA basis.

Per-feature summaries cannot see a change in how features move together. ``reference build``
therefore also keeps a bounded sample of complete rows (every numeric feature finite) and fits
principal components on reference rows that are not the sample's held-out part; the
multivariate statistics (PCA reconstruction error, the classifier two-sample test) are built
from this. Its size is ``joint_sample_size`` rows x the numeric features: 10,000 rows of 20
features are 1.6 MB in the profile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors.errors import DetectorInputError
from detectors.pca import PCAReconstruction
from driftd.errors import ProfileError
from driftd.reference.profile import JointSummary

# The basis is fitted on rows outside the sample when there are enough of them, up to this
# many (more change it by nothing that matters and cost an SVD of their size).
FIT_ROWS = 200_000
MIN_FIT_PER_FEATURE = 20


def build_joint(
    names: Sequence[str],
    columns: Sequence[np.ndarray],
    sample_size: int,
    variance: float,
    rng: np.random.Generator,
    *,
    max_components: int | None = None,
) -> JointSummary | None:
    """The joint summary of equal-length numeric ``columns`` (NaN where missing), or None when
    there are fewer than two features or too few complete rows to fit a basis.

    ``max_components`` caps the basis (a vector feature's dimensions), which then needs fewer
    rows than dimensions to fit."""
    d = len(columns)
    if d < 2 or sample_size <= 0:
        return None
    complete = np.ones(columns[0].size, dtype=bool)
    for col in columns:
        complete &= np.isfinite(col)
    rows = np.flatnonzero(complete)
    per_feature = MIN_FIT_PER_FEATURE * d if max_components is None else 4 * max_components
    if rows.size < max(2 * per_feature, 200):
        return None
    rng.shuffle(rows)
    take = min(sample_size, rows.size)
    rest = rows[take:]
    if rest.size >= max(per_feature, take // 2):
        # Enough rows beside the sample: fit on them, and every sample row is held out.
        fit_at, fit_rows = np.sort(rest[:FIT_ROWS]), 0
    else:
        # Otherwise the first half of the sample fits and the second half is held out.
        fit_at, fit_rows = np.sort(rows[: take // 2]), take // 2
    picked = rows[:take]
    sample = np.column_stack([col[picked] for col in columns])
    fit_on = np.column_stack([col[fit_at] for col in columns])
    pca = _fit(fit_on, variance, max_components)
    if pca is None:
        return None
    return JointSummary(
        features=tuple(names),
        sample=np.ascontiguousarray(sample),
        fit_rows=fit_rows,
        mean=pca.mean,
        scale=pca.scale,
        components=pca.components,
        explained=pca.explained,
        variance=variance,
    )


def _fit(rows: np.ndarray, variance: float, max_components: int | None) -> PCAReconstruction | None:
    try:
        return PCAReconstruction.fit(rows, variance, max_components)
    except DetectorInputError:
        return None


def restricted(joint: JointSummary, features: Sequence[str]) -> JointSummary:
    """The joint summary of a subset of its features (a monitor that watches fewer): the basis
    is refitted on the first half of the sample, and the second half is held out."""
    if tuple(features) == joint.features:
        return joint
    missing = [f for f in features if f not in joint.features]
    if missing:
        raise ProfileError(f"features {missing} are not in the profile's joint sample")
    cols = [joint.features.index(f) for f in features]
    sample = np.ascontiguousarray(joint.sample[:, cols])
    half = sample.shape[0] // 2
    pca = PCAReconstruction.fit(sample[:half], joint.variance)
    return JointSummary(
        features=tuple(features),
        sample=sample,
        fit_rows=half,
        mean=pca.mean,
        scale=pca.scale,
        components=pca.components,
        explained=pca.explained,
        variance=joint.variance,
    )


def basis(joint: JointSummary) -> PCAReconstruction:
    """The fitted PCA basis of ``joint``."""
    return PCAReconstruction(joint.mean, joint.scale, joint.components, joint.explained)


def held_out(joint: JointSummary) -> np.ndarray:
    """The sample rows the basis was not fitted on."""
    return joint.sample[joint.fit_rows :]
