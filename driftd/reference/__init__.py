"""Reference profiles: build from training data, save/load, describe."""

from driftd.reference.build import BuildOptions, MixedTypesError, build_profile
from driftd.reference.io import load_profile, save_profile
from driftd.reference.profile import (
    CategoricalSummary,
    FeatureProfile,
    NumericSummary,
    Profile,
)
from driftd.reference.show import describe

__all__ = [
    "BuildOptions",
    "CategoricalSummary",
    "FeatureProfile",
    "MixedTypesError",
    "NumericSummary",
    "Profile",
    "build_profile",
    "describe",
    "load_profile",
    "save_profile",
]
