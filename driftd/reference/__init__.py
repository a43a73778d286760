"""Reference profiles: build from training data, save/load, describe."""

from typing import TYPE_CHECKING

from driftd.lazy import lazy_exports

if TYPE_CHECKING:  # what the names are, for type checkers
    from driftd.reference.build import BuildOptions, MixedTypesError, build_profile
    from driftd.reference.io import load_profile, save_profile
    from driftd.reference.profile import (
        CategoricalSummary,
        FeatureProfile,
        NumericSummary,
        Profile,
    )
    from driftd.reference.show import describe

# Loading a profile must not import the builder (pyarrow, the binning search): check-config
# and start-up only load.
_EXPORTS = {
    "BuildOptions": "driftd.reference.build",
    "MixedTypesError": "driftd.reference.build",
    "build_profile": "driftd.reference.build",
    "load_profile": "driftd.reference.io",
    "save_profile": "driftd.reference.io",
    "CategoricalSummary": "driftd.reference.profile",
    "FeatureProfile": "driftd.reference.profile",
    "NumericSummary": "driftd.reference.profile",
    "Profile": "driftd.reference.profile",
    "describe": "driftd.reference.show",
}
__getattr__ = lazy_exports(globals(), _EXPORTS)

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
