"""Fixtures for the detectors tests: the slow twins in ``naive.py``.

The twins are loaded by path because pytest runs with ``--import-mode=importlib``, which keeps
test directories off ``sys.path``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def naive() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "detectors_naive_twins", Path(__file__).with_name("naive.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
