"""Package-level rules: no dependency on the daemon, and every kernel compiled by warmup()."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import detectors
from detectors import (
    _binning_kernels,
    _divergence_kernels,
    _kolmogorov,
    _ks_kernels,
    _wasserstein_kernels,
)

PACKAGE = Path(detectors.__file__).parent
THIRD_PARTY = {"numpy", "numba", "scipy"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_imports_only_numerics_and_stdlib(path: Path) -> None:
    roots = imported_roots(path)
    assert "driftd" not in roots
    assert roots <= THIRD_PARTY | set(sys.stdlib_module_names)


def entry_kernels() -> list[tuple[str, numba.core.registry.CPUDispatcher]]:
    """Kernels called from Python. Underscored kernels are only called by other kernels and are
    compiled into them."""
    modules = (
        _binning_kernels,
        _divergence_kernels,
        _kolmogorov,
        _ks_kernels,
        _wasserstein_kernels,
    )
    return [
        (f"{module.__name__}.{name}", obj)
        for module in modules
        for name, obj in vars(module).items()
        if isinstance(obj, numba.core.registry.CPUDispatcher) and not name.startswith("_")
    ]


def test_warmup_compiles_every_kernel_once() -> None:
    assert detectors.warmup() >= 0.0
    kernels = entry_kernels()
    assert len(kernels) >= 10
    missing = [name for name, obj in kernels if not obj.signatures]
    assert not missing, f"warmup() does not compile {missing}"
    before = {name: len(obj.signatures) for name, obj in kernels}
    # Exercise the public API with other dtypes and sizes: no kernel may need a new signature.
    gen = np.random.default_rng(0)
    ints = gen.integers(0, 5, 300)
    detectors.ks_2samp(ints, gen.normal(size=20_001))
    detectors.ks_2samp(ints.astype(np.int32), ints[:100])
    detectors.KSReference(gen.normal(size=50)).test(gen.normal(size=10_000))
    for name, cls in detectors.REGISTRY.items():
        det = cls(gen.normal(size=500)) if cls.kind == "numeric" else cls(ints, 5)
        det.score(gen.normal(size=100) if cls.kind == "numeric" else ints.astype(np.int8))
        if hasattr(det, "summary"):
            det.score_summary(det.summary().update(ints))
        assert name
    detectors.bin_counts(ints, np.linspace(0.5, 3.5, 40))
    detectors.psi([1, 2], [3, 4])
    detectors.js_distance([1, 2], [3.0, 4.0])
    detectors.linf_distance([1, 2], [3, 4])
    detectors.wasserstein_distance(ints, [1.0, 2.0])
    after = {name: len(obj.signatures) for name, obj in kernels}
    assert after == before
