"""The request/response join: inference logs that write a request and its response apart.

KServe's logger writes a request CloudEvent (the features) and a response CloudEvent (the
predictions) with one ``ce_id``; Seldon Core 2 writes ``.inputs`` and ``.outputs`` topics with
one request id. A ``joins[]`` entry names the streams that carry the halves (one stream when
both are on one topic) and becomes a stream of its own: each id's request and response are
merged into one event, which the monitors that list the join's name window like any other,
so prediction drift, segments by feature and concept drift all see whole events.

Which half a row is comes from what it holds: a prediction makes it a response, features
without a prediction a request; a row with both is whole and passes straight through, a row
with neither (a label, an empty row) is not the join's. The merged event has the request's
features and event time (the response's where the request has none), the response's
prediction, model and version (the request's where the response has none), and the
segments and label of either.

Bounds, as in the label join (driftd.concept.join): a half waits at most ``ttl`` seconds of
arrival time for its other half (then it counts as expired), at most ``max_pending`` halves
wait at once (beyond that the oldest are evicted), a second half of the same kind for an
id that is waiting counts as a duplicate and is dropped (the first is kept). Waiting halves
are part of the checkpoint, so a restart between a request and its response still joins
them; the time spent stopped does not count against the TTL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import msgspec
import numpy as np

from driftd.config.models import InferenceJoinConfig
from driftd.decoding import DecodedBatch

STATE_VERSION = 1
_REQUEST, _RESPONSE = 0, 1


@dataclass(slots=True)
class JoinCounts:
    """Cumulative counts of one join; saved with its state."""

    requests: int = 0
    responses: int = 0
    joined: int = 0
    whole: int = 0  # rows that held features and prediction: passed through
    expired: int = 0
    evicted: int = 0
    duplicates: int = 0
    without_id: int = 0
    refused: int = 0  # merged events a monitor of the join cannot take (counted, logged)


@dataclass(slots=True)
class _Half:
    arrived: float
    kind: int
    time: float
    model: Any
    model_version: Any
    prediction: Any
    label: Any
    features: dict[str, Any]
    segments: dict[str, Any]


def _encode_default(value: Any) -> Any:
    # Values msgpack has no type for (decimals from Avro, say) are kept as text: the join
    # state must be written whatever a record held.
    return str(value)


_encode = msgspec.msgpack.Encoder(enc_hook=_encode_default).encode
_decode = msgspec.msgpack.Decoder().decode


class RequestResponseJoin:
    """Merges the halves of ``cfg.streams``' events by id (see the module docstring)."""

    def __init__(
        self,
        cfg: InferenceJoinConfig,
        features: list[str],
        segments: list[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        # The joined stream's columns: every feature and segment some side maps.
        self._features = features
        self._segments = segments
        self._clock = clock
        # Insertion order is arrival order: expiry and eviction take from the front.
        self._pending: dict[str, _Half] = {}
        self.counts = JoinCounts()

    @property
    def pending(self) -> int:
        """Halves waiting for their other half."""
        return len(self._pending)

    def add(self, batch: DecodedBatch) -> DecodedBatch:
        """Take the rows of one side's batch; return the events this completes, in order."""
        now = self._clock()
        out: list[tuple[Any, _Half]] = []
        names = list(batch.features)
        seg_names = list(batch.segments)
        for j in range(len(batch)):
            prediction = batch.predictions[j]
            features = {n: v for n in names if (v := batch.features[n][j]) is not None}
            if prediction is None and not features:
                continue  # a label or an empty row: not a half of an inference
            half = _Half(
                arrived=now,
                kind=_RESPONSE if prediction is not None else _REQUEST,
                time=float(batch.timestamps[j]),
                model=batch.models[j],
                model_version=batch.model_versions[j],
                prediction=prediction,
                label=batch.labels[j],
                features=features,
                segments={n: v for n in seg_names if (v := batch.segments[n][j]) is not None},
            )
            key = batch.ids[j]
            if prediction is not None and features:
                self.counts.whole += 1
                out.append((key, half))
                continue
            if half.kind == _RESPONSE:
                self.counts.responses += 1
            else:
                self.counts.requests += 1
            if key is None:
                self.counts.without_id += 1
                continue
            ident = str(key)
            waiting = self._pending.get(ident)
            if waiting is None:
                self._pending[ident] = half
                if len(self._pending) > self.cfg.max_pending:
                    # Per arrival, not per batch: which half goes must not depend on batching.
                    del self._pending[next(iter(self._pending))]
                    self.counts.evicted += 1
            elif waiting.kind == half.kind:
                self.counts.duplicates += 1
            else:
                del self._pending[ident]
                self.counts.joined += 1
                request, response = (waiting, half) if half.kind == _RESPONSE else (half, waiting)
                out.append((key, _merge(request, response)))
        return _batch(out, self._features, self._segments)

    def sweep(self) -> int:
        """Expire halves that waited longer than the TTL; returns how many."""
        cutoff = self._clock() - self.cfg.ttl
        gone = []
        for ident, half in self._pending.items():
            if half.arrived > cutoff:
                break
            gone.append(ident)
        for ident in gone:
            del self._pending[ident]
        self.counts.expired += len(gone)
        return len(gone)

    def status(self) -> dict[str, Any]:
        """Counts and what waits, for /status."""
        return {"pending": self.pending, **asdict(self.counts)}

    def snapshot(self) -> tuple[dict[str, Any], np.ndarray]:
        """Counts plus every waiting half (with its age, not its clock time)."""
        now = self._clock()
        rows = [
            [
                ident,
                now - h.arrived,
                h.kind,
                h.time,
                h.model,
                h.model_version,
                h.prediction,
                h.label,
                h.features,
                h.segments,
            ]
            for ident, h in self._pending.items()
        ]
        meta = {"version": STATE_VERSION, "counts": asdict(self.counts), "config": _key(self.cfg)}
        try:
            data = _encode(rows)
        except OverflowError:
            data = _encode(_bounded(rows))  # an integer beyond 64 bits (Avro, Protobuf)
        return meta, np.frombuffer(data, dtype=np.uint8)

    def restore(self, meta: dict[str, Any], data: np.ndarray) -> None:
        """Continue from ``snapshot()``: halves wait on as old as they were when saved."""
        if meta.get("version") != STATE_VERSION or meta.get("config") != _key(self.cfg):
            raise ValueError("the join's checkpoint is of another version or config")
        now = self._clock()
        pending: dict[str, _Half] = {}
        for ident, age, kind, t, model, version, prediction, label, feats, segs in _decode(
            data.tobytes()
        ):
            pending[str(ident)] = _Half(
                now - float(age), int(kind), float(t), model, version, prediction, label,
                dict(feats), dict(segs),
            )  # fmt: skip
        self._pending = pending
        self.counts = JoinCounts(**meta["counts"])


def _bounded(value: Any) -> Any:
    """``value`` with integers msgpack cannot hold written as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, list):
        return [_bounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _bounded(v) for k, v in value.items()}
    return value


def _key(cfg: InferenceJoinConfig) -> list[Any]:
    # What the waiting halves depend on: other streams make them another join's.
    return [cfg.name, list(cfg.streams)]


def _merge(request: _Half, response: _Half) -> _Half:
    return _Half(
        arrived=response.arrived,
        kind=_RESPONSE,
        time=request.time if not math.isnan(request.time) else response.time,
        model=response.model if response.model is not None else request.model,
        model_version=(
            response.model_version if response.model_version is not None else request.model_version
        ),
        prediction=response.prediction,
        label=response.label if response.label is not None else request.label,
        features={**response.features, **request.features},
        segments={**response.segments, **request.segments},
    )


def _batch(
    events: list[tuple[Any, _Half]], features: list[str], segments: list[str]
) -> DecodedBatch:
    n = len(events)
    halves = [h for _, h in events]
    return DecodedBatch(
        index=np.arange(n, dtype=np.int64),
        ids=[k for k, _ in events],
        timestamps=np.array([h.time for h in halves], dtype=np.float64),
        models=[h.model for h in halves],
        model_versions=[h.model_version for h in halves],
        predictions=[h.prediction for h in halves],
        labels=[h.label for h in halves],
        features={name: [h.features.get(name) for h in halves] for name in features},
        segments={name: [h.segments.get(name) for h in halves] for name in segments},
        rejected=[],
    )
