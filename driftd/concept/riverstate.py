"""JSON snapshots of river drift detectors' internal state, restorable without pickle.

Why not pickle: a pickle names the code that runs when it is loaded, so a state file that anyone
could write would be a way to run code in the daemon. The state of river's drift detectors is
small and plain: numbers, a few river statistics (``Mean``, ``Var``, ``EWMean``, HDDM-W's
``SampleInfo``) and two Rust objects (ADWIN's window and ``EWMean``'s core) that serialise
themselves to bytes through ``__getstate__``/``__setstate__``. So a snapshot is JSON: numbers as
they are (non-finite floats tagged), Python objects as their attribute dicts, Rust objects as
constructor arguments plus their own bytes in base64. Loading instantiates only the classes in
an allow-list, and the state file's checksum is verified before any of it is decoded.

A river upgrade that changes a detector's internals makes :func:`restore` raise
:class:`~driftd.concept.errors.ConceptStateError`; the monitor then starts that detector afresh.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from river import stats
from river._river_rust.drift import AdaptiveWindowing
from river._river_rust.stats import RsEWMean
from river.base import DriftDetector
from river.drift.binary.hddm_w import SampleInfo

from driftd.concept.errors import ConceptStateError

_PYTHON_CLASSES: dict[str, type] = {
    "river.stats.Mean": stats.Mean,
    "river.stats.Var": stats.Var,
    "river.stats.EWMean": stats.EWMean,
    "river.drift.binary.hddm_w.SampleInfo": SampleInfo,
}
_RUST_CLASSES: dict[str, type] = {
    "river.drift.AdaptiveWindowing": AdaptiveWindowing,
    "river.stats.RsEWMean": RsEWMean,
}
_NAMES = {cls: name for name, cls in (_PYTHON_CLASSES | _RUST_CLASSES).items()}


def snapshot(detector: DriftDetector) -> dict[str, Any]:
    """The detector's constructor parameters and internal state, as JSON-able data."""
    attrs = {k: _encode(v) for k, v in vars(detector).items() if not callable(v)}
    return {"params": _encode(detector._get_params()), "attrs": attrs}


def restore(detector: DriftDetector, state: dict[str, Any]) -> None:
    """Overwrite a freshly built detector's state with a :func:`snapshot` of one like it."""
    try:
        params = _decode(state["params"])
        if params != detector._get_params():
            raise ConceptStateError(
                f"saved {type(detector).__name__} parameters {params} differ from the "
                f"configured {detector._get_params()}"
            )
        attrs = {k: _decode(v) for k, v in state["attrs"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConceptStateError(f"malformed {type(detector).__name__} state: {exc!r}") from exc
    expected = {k for k, v in vars(detector).items() if not callable(v)}
    if set(attrs) != expected:
        raise ConceptStateError(
            f"saved {type(detector).__name__} state has attributes {sorted(attrs)}, this river "
            f"version has {sorted(expected)}"
        )
    for k, v in attrs.items():
        setattr(detector, k, v)


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, dict):
        return {"$dict": {str(k): _encode(v) for k, v in value.items()}}
    name = _NAMES.get(type(value))
    if name in _PYTHON_CLASSES:
        return {"$object": name, "attrs": {k: _encode(v) for k, v in vars(value).items()}}
    if name in _RUST_CLASSES:
        return {
            "$rust": name,
            "args": [_encode(a) for a in value.__getnewargs__()],
            "state": base64.b64encode(value.__getstate__()).decode("ascii"),
        }
    raise TypeError(f"cannot snapshot a {type(value).__module__}.{type(value).__qualname__}")


def _decode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if not isinstance(value, dict) or len(value) > 3:
        raise ValueError(f"unexpected value {value!r}")
    if "$float" in value:
        text = value["$float"]
        if text not in ("inf", "-inf", "nan"):
            raise ValueError(f"unexpected float {text!r}")
        return float(text)
    if "$dict" in value:
        return {k: _decode(v) for k, v in value["$dict"].items()}
    if "$object" in value:
        cls = _PYTHON_CLASSES[value["$object"]]
        obj = cls.__new__(cls)
        for k, v in value["attrs"].items():
            setattr(obj, k, _decode(v))
        return obj
    if "$rust" in value:
        cls = _RUST_CLASSES[value["$rust"]]
        obj = cls.__new__(cls, *[_decode(a) for a in value["args"]])
        raw = base64.b64decode(value["state"], validate=True)
        try:
            obj.__setstate__(raw)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            # pyo3 reports bytes it cannot decode as a PanicException, a BaseException.
            raise ValueError(f"{value['$rust']} rejected its saved bytes: {exc}") from exc
        return obj
    raise ValueError(f"unexpected value {value!r}")
