"""Package exports loaded on first use (PEP 562).

Importing one submodule of a package (the config models, say) runs the package's
``__init__``; with eager re-exports that pulled in the whole subsystem (river, scipy) and made
``check-config`` take 3.4 s. A package lists ``name -> module`` and gets a ``__getattr__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing ``exports[name]`` on first access (then cached in
    ``namespace``, the package's globals)."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:  # noqa: N807 - the PEP 562 hook's name
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
