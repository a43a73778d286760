"""Bytes from Kafka to columns of events, a batch at a time.

The field mapping of a stream (dotted JSON paths) is compiled once into nested ``msgspec``
structs, so a whole poll batch is parsed in one C call that skips every key driftd does not use.
A batch with a bad record falls back to record-by-record decoding, so one poison message costs
only itself: it comes back in ``DecodedBatch.rejected`` with a reason, never as an exception.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from driftd.config.models import StreamConfig, uses_registry
from driftd.errors import ConfigError, DecodeError
from driftd.fieldpaths import merged, payload_path, record_reader, walk
from driftd.protocols import rows_of
from driftd.sources.base import Partition

if TYPE_CHECKING:
    from driftd.avrocolumns import AvroColumns, Columns
    from driftd.protocolumns import ProtoColumns
    from driftd.registry import Registry

# Role names of the fixed (non-feature) fields; features and segments get their own prefixes.
_ROLES = ("id", "timestamp", "model", "model_version", "prediction", "label")
_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
EARLIEST = 946_684_800.0  # 2000-01-01T00:00:00Z: no model's event is older
_NUMBERS = {int, float, type(None)}
# What msgspec raises for a record it cannot decode. Besides its own errors, invalid UTF-8 inside
# a string gives UnicodeDecodeError and deep nesting RecursionError; both once escaped decode()
# and crashed the daemon on one poison record, again after every restart (it is never committed).
_UNDECODABLE = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)
# What the typed decoders hold for a feature of each kind. A record whose value is anything else
# (a bool or text where a number belongs, a number past float range) fails the typed decode, and
# its batch is read untyped, where the schema checks name the anomaly.
_KIND_TYPES: dict[str, Any] = {"numeric": float | None, "categorical": str | int | None}
_astuple = msgspec.structs.astuple


@dataclass(frozen=True, slots=True)
class Rejected:
    """One record that could not be decoded: its index in the batch and why."""

    index: int
    error: DecodeError

    def __post_init__(self) -> None:
        # An exception caught in a loop keeps its traceback, whose frames hold the whole
        # batch (every record of it): a reference cycle only the rare full GC collects.
        # With a few bad records per batch that kept every batch alive (RSS 360 -> 770 MB
        # over 1.2 M records). The reason and detail are all a rejection needs.
        self.error.__traceback__ = None
        self.error.__cause__ = self.error.__context__ = None


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """Columns of the decoded events of one batch, in record order.

    ``index`` maps each decoded event back to its record in the input batch; ``features`` and
    ``segments`` hold one column (a list of raw JSON values, None when missing) per name.
    ``numbers`` holds, for numeric features the decoder read typed, the same column as float64
    (NaN where missing; every other value a finite number), converted once for every monitor.
    """

    index: np.ndarray
    ids: list[Any]
    timestamps: np.ndarray
    models: list[Any]
    model_versions: list[Any]
    predictions: list[Any]
    labels: list[Any]
    features: dict[str, list[Any]]
    segments: dict[str, list[Any]]
    rejected: list[Rejected]
    numbers: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)

    def data_rows(self) -> np.ndarray:
        """Rows that are data events: not label-only records (an id and a label, no features
        and no prediction), which a stream carrying both predictions and labels also holds."""
        if self.labels.count(None) == len(self.labels):
            return np.arange(len(self.index))
        label_only = [
            y is not None and p is None and all(col[j] is None for col in self.features.values())
            for j, (y, p) in enumerate(zip(self.labels, self.predictions, strict=True))
        ]
        return np.flatnonzero(~np.asarray(label_only, dtype=bool))

    def of_model(self, model: str | None, *, strict: bool = True) -> np.ndarray:
        """Rows of ``model`` (every row when None); with ``strict=False`` rows that name no
        model count too (a label record often carries only the id)."""
        if model is None:
            return np.arange(len(self.index))
        return np.flatnonzero(
            [m == model or (not strict and m is None) for m in self.models]
        ).astype(np.int64)

    def take(self, rows: Sequence[int] | np.ndarray) -> DecodedBatch:
        """The events at ``rows`` (positions in this batch), in that order; no rejects."""
        pick = [int(r) for r in rows]

        def sub(col: list[Any]) -> list[Any]:
            return [col[i] for i in pick]

        return DecodedBatch(
            index=self.index[pick] if pick else np.empty(0, np.int64),
            ids=sub(self.ids),
            timestamps=self.timestamps[pick] if pick else np.empty(0),
            models=sub(self.models),
            model_versions=sub(self.model_versions),
            predictions=sub(self.predictions),
            labels=sub(self.labels),
            features={k: sub(v) for k, v in self.features.items()},
            segments={k: sub(v) for k, v in self.segments.items()},
            rejected=[],
            numbers={k: v[pick] if pick else np.empty(0) for k, v in self.numbers.items()},
        )


class StreamDecoder:
    """Decodes the JSON records of one stream into a DecodedBatch.

    Examples
    --------
    >>> from driftd.config.models import StreamConfig
    >>> cfg = StreamConfig.model_validate({"name": "p", "topic": "t", "fields": {
    ...     "id": "request.id", "features": {"age": "x.age", "city": "x.city"}}})
    >>> batch = StreamDecoder(cfg).decode([b'{"request": {"id": "r1"}, "x": {"age": 41}}', b"{"])
    >>> batch.ids, batch.features["age"], batch.features["city"], batch.rejected[0].error.reason
    (['r1'], [41], [None], 'invalid_json')
    """

    def __init__(
        self,
        stream: StreamConfig,
        clock: Callable[[], float] = time.time,
        registry: Registry | None = None,
        kinds: Mapping[str, str] | None = None,
    ) -> None:
        """``kinds`` names the features' kinds as the monitors see them ("numeric" or
        "categorical", from their profiles): those are decoded typed, and numeric ones handed
        over as float64 columns too. Without it every value is decoded as it is."""
        self.stream = stream
        self.registry = registry if uses_registry(stream) else None
        fields = stream.fields
        paths: dict[str, str] = {}
        for role in _ROLES:
            path = getattr(fields, role)
            if path is not None:
                paths[role] = path
        self.feature_names = list(fields.feature_paths())
        self.segment_names = list(fields.segments)
        for name, path in fields.feature_paths().items():
            paths[f"f:{name}"] = path
        for name, path in fields.segments.items():
            paths[f"s:{name}"] = path
        # Record paths (key, kafka.*, headers.*) are read from the record, the rest from its
        # JSON value: msgspec structs down to the first array position, walked from there.
        self._record_paths = {k: p for k, p in paths.items() if payload_path(p) is None}
        payload = merged({k: pp for k, p in paths.items() if (pp := payload_path(p)) is not None})
        self._keys = list(payload)
        self._rest = {k: pp.rest for k, pp in payload.items() if pp.rest}
        struct_paths = list(dict.fromkeys(pp.struct_path for pp in payload.values()))
        self._struct_of = {k: pp.struct_path for k, pp in payload.items()}
        root, self._layout = _compile(struct_paths, {})
        self._one = msgspec.json.Decoder(root)
        # A struct path gets a type only when every key read from it is a feature of one kind
        # that is the whole value there (no positions or keys walked below it).
        kind_of: dict[str, set[str | None]] = {}
        for key, sp in self._struct_of.items():
            kind = (kinds or {}).get(key[2:]) if key.startswith("f:") else None
            kind_of.setdefault(sp, set()).add(None if key in self._rest else kind)
        types = {
            sp: _KIND_TYPES[k]
            for sp, ks in kind_of.items()
            if len(ks) == 1 and (k := next(iter(ks))) in _KIND_TYPES
        }
        self._numbers = [
            k[2:]
            for k, sp in self._struct_of.items()
            if k.startswith("f:") and types.get(sp) is _KIND_TYPES["numeric"]
        ]
        self._typed: tuple[msgspec.json.Decoder, _Node] | None = None
        if types:
            typed_root, typed_layout = _compile(struct_paths, types)
            self._typed = (msgspec.json.Decoder(typed_root), typed_layout)
        self._rows = rows_of(stream.protocol) if stream.protocol != "none" else None
        if self.registry is not None:
            from driftd.registry import rows_of as wire_rows

            self._rows = wire_rows(self.registry, stream.format)
        elif uses_registry(stream):
            raise ConfigError(f"stream {stream.name!r}: format {stream.format} needs a registry")
        elif stream.format == "avro":
            from driftd import avro

            assert stream.schema_file is not None
            self._avro_schema = avro.load_schema(stream.schema_file)
            self._rows = avro.rows_of(self._avro_schema)
        plain = stream.protocol == "none"
        self._json_schema = self.registry is not None and stream.format == "json_schema" and plain
        plain = plain and not self._rest  # the kernels read whole values at struct paths
        # Avro datums of a flat enough schema go straight into columns (driftd.avrocolumns);
        # the rest (and any batch it does not read exactly) through fastavro, record by record.
        self._avro_columns: AvroColumns | None = None
        self._proto_columns: ProtoColumns | None = None
        numeric = {sp for sp, t in types.items() if t is _KIND_TYPES["numeric"]}
        if stream.format == "avro" and plain:
            from driftd.avrocolumns import AvroColumns

            self._avro_columns = AvroColumns(struct_paths, numeric)
        if stream.format == "protobuf" and self.registry is not None and plain:
            from driftd.protocolumns import ProtoColumns

            self._proto_columns = ProtoColumns(struct_paths, numeric)
        self._root = root
        self._many_type = list[root]  # type: ignore[valid-type]
        self._timestamp_unit = stream.timestamp_unit
        self._max_future = stream.timestamp_max_future
        self._clock = clock
        # For driftd.timeunits, since its last take_time_counts(): event times checked, and
        # of those out of range, how many would be in range read in another unit.
        self._times_checked = 0
        self._looks_like: Counter[str] = Counter()

    def prepare(self, values: Sequence[bytes | None]) -> None:
        """Resolve what decoding ``values`` needs from outside (schema ids in a registry);
        raises RegistryUnavailableError when that cannot be done now. A no-op for other formats."""
        if self.registry is not None:
            self.registry.prepare(self.stream.format, values)

    def decode(
        self,
        values: Sequence[bytes | None],
        records: Sequence[Any] | None = None,
        partition: Partition | None = None,
    ) -> DecodedBatch:
        """Decode a batch of record values; bad records are returned in ``rejected``.
        ``records`` (aligned with ``values``) and ``partition`` feed the record paths (key,
        kafka.*, headers.*); without them those fields are missing. With a ``protocol``, a
        record gives one event per row, and ``index`` repeats its position."""
        read = None
        if self._avro_columns is not None:
            read = self._read_avro_columns(values)
        elif self._proto_columns is not None:
            read = self._read_proto_columns(values)
        if read is not None:
            index = list(range(len(values)))
            return self._assemble(
                read.values, index, [], records, partition, numbers=self._by_feature(read)
            )
        if self._json_schema:
            # JSON after the wire prefix: the flat-JSON decoders read the batch whole when
            # every record is an object of a resolved id; anything else goes by the rows.
            stripped = self._json_payloads(values)
            whole = None if stripped is None else self._whole(stripped, records, partition)
            if whole is not None:
                return whole
        if self._rows is not None:
            return self._decode_rows(values, records, partition)
        return self._decode_values(values, records, partition)

    def _read_proto_columns(self, values: Sequence[bytes | None]) -> Columns | None:
        """The batch's columns read by the Protobuf kernel when every value has the first
        one's wire prefix (schema id and message indexes) of a resolved id, else None."""
        from driftd.protobuf import wire_prefix

        assert self._proto_columns is not None
        assert self.registry is not None
        first = values[0] if values else None
        if first is None or len(first) < 6 or first[0] != 0:
            return None
        try:
            indexes, at = wire_prefix(first)
        except DecodeError:
            return None
        prefix = first[:at]
        try:
            if len({v[:at] for v in values}) != 1:  # type: ignore[index]
                return None
        except TypeError:  # a tombstone
            return None
        sid = int.from_bytes(prefix[1:5], "big")
        descriptor = self.registry.protobuf_descriptor(sid, indexes)
        if descriptor is None:
            return None
        program = self._proto_columns.program((sid, indexes), descriptor)
        if program is None:
            return None
        return self._proto_columns.read(list(values), program, at)  # type: ignore[arg-type]

    def _json_payloads(self, values: Sequence[bytes | None]) -> list[bytes] | None:
        """The JSON after each value's wire prefix when every prefix names a resolved JSON
        Schema id, else None."""
        assert self.registry is not None
        groups = _by_schema_id(values)
        if groups is None or not all(self.registry.resolved("json_schema", i) for i in groups):
            return None
        return [v[5:] for v in values]  # type: ignore[index]

    def _read_avro_columns(self, values: Sequence[bytes | None]) -> Columns | None:
        """The batch's columns read by the Avro kernel, or None (read it record by record)."""
        assert self._avro_columns is not None
        columns = self._avro_columns
        if self.registry is None:
            program = columns.program("file", self._avro_schema, None)
            if program is None:
                return None
            return columns.read(list(values), [(program, list(range(len(values))), 0)])
        by_id = _by_schema_id(values)
        if by_id is None:
            return None
        groups = []
        for sid, positions in by_id.items():
            known = self.registry.avro_schema(sid)
            program = None if known is None else columns.program(sid, *known)
            if program is None:
                return None
            groups.append((program, positions, 5))
        return columns.read(list(values), groups)

    def _by_feature(self, read: Columns) -> dict[str, np.ndarray]:
        """The float64 columns of ``read`` by the numeric features they are."""
        return {
            key[2:]: read.numbers[sp]
            for key, sp in self._struct_of.items()
            if key.startswith("f:") and sp in read.numbers
        }

    def _decode_rows(
        self,
        values: Sequence[bytes | None],
        records: Sequence[Any] | None,
        partition: Partition | None,
    ) -> DecodedBatch:
        """Expand every record into its rows (re-encoded as JSON for the field mapping), decode
        those, and map events and rejections back to the records."""
        assert self._rows is not None
        docs: list[dict[str, Any]] = []
        owner: list[int] = []
        early: list[Rejected] = []
        for i, value in enumerate(values):
            headers = getattr(records[i], "headers", None) if records is not None else None
            try:
                rows = self._rows(value, headers)
            except DecodeError as exc:
                early.append(Rejected(i, exc))
                continue
            docs.extend(rows)
            owner.extend([i] * len(rows))
        # Rows are Python objects already: msgspec converts them to the mapping's structs in
        # one C call (no JSON round trip); a row of the wrong shape is found one by one.
        found: list[Rejected] = []
        try:
            events = msgspec.convert(docs, self._many_type)
            at = list(range(len(docs)))
        except msgspec.ValidationError:
            events, at = [], []
            for j, doc in enumerate(docs):
                try:
                    events.append(msgspec.convert(doc, self._root))
                    at.append(j)
                except msgspec.ValidationError as exc:
                    found.append(Rejected(j, DecodeError("wrong_shape", str(exc))))
        row_records = [records[i] for i in owner] if records is not None else None
        inner = self._events(events, at, found, row_records, partition, layout=self._layout)
        index = np.asarray([owner[j] for j in inner.index.tolist()], dtype=np.int64)
        seen = {r.index for r in early}
        rejected = list(early)
        for r in inner.rejected:
            if owner[r.index] not in seen:  # one dead letter per record, not per row
                seen.add(owner[r.index])
                rejected.append(Rejected(owner[r.index], r.error))
        rejected.sort(key=lambda r: r.index)
        return replace(inner, index=index, rejected=rejected)

    def _decode_values(
        self,
        values: Sequence[bytes | None],
        records: Sequence[Any] | None,
        partition: Partition | None,
    ) -> DecodedBatch:
        whole = self._whole(values, records, partition)
        if whole is not None:
            return whole
        # Some record failed: record by record, so that only a bad record is rejected.
        rejected: list[Rejected] = []
        events: list[Any] = []
        index: list[int] = []
        for i, value in enumerate(values):
            try:
                events.append(self._decode_one(value))
                index.append(i)
            except DecodeError as exc:
                rejected.append(Rejected(i, exc))
        return self._events(events, index, rejected, records, partition, layout=self._layout)

    def _whole(
        self,
        values: Sequence[bytes | None],
        records: Sequence[Any] | None,
        partition: Partition | None,
    ) -> DecodedBatch | None:
        """The batch when every record decodes, typed if it can, else untyped; one C call
        per record (map), stopped by the first that fails. None when some record fails."""
        if self._typed is not None:
            decoder, layout = self._typed
            try:
                events = list(map(decoder.decode, values))
            except (*_UNDECODABLE, TypeError):  # TypeError: a tombstone (None)
                pass
            else:
                index = list(range(len(values)))
                return self._events(
                    events, index, [], records, partition, layout=layout, typed=True
                )
        try:
            events = list(map(self._one.decode, values))
        except (*_UNDECODABLE, TypeError):
            return None
        index = list(range(len(values)))
        return self._events(events, index, [], records, partition, layout=self._layout)

    def _events(
        self,
        events: list[Any],
        index: list[int],
        rejected: list[Rejected],
        records: Sequence[Any] | None,
        partition: Partition | None,
        *,
        layout: _Node,
        typed: bool = False,
    ) -> DecodedBatch:
        """The batch of decoded events (``index``: their positions in the input), read with
        the ``layout`` of their structs; ``typed`` when they came from the typed decoder."""
        columns: dict[str, Sequence[Any]] = {}
        _transpose(events, layout, columns)
        return self._assemble(columns, index, rejected, records, partition, typed=typed)

    def _assemble(
        self,
        columns: dict[str, Sequence[Any]],
        index: list[int],
        rejected: list[Rejected],
        records: Sequence[Any] | None,
        partition: Partition | None,
        *,
        typed: bool = False,
        numbers: dict[str, np.ndarray] | None = None,
    ) -> DecodedBatch:
        """The batch from columns by struct path (``index``: the events' positions in the
        input). Numeric feature columns as float64: computed from the columns when ``typed``
        (they hold only finite numbers and None), or given as ``numbers``."""
        count = len(index)
        by_key: dict[str, Sequence[Any]] = {}
        for key in self._keys:
            column = columns[self._struct_of[key]]
            rest = self._rest.get(key)
            if not rest:
                by_key[key] = column
            elif len(rest) == 1 and isinstance(rest[0], int):
                # One array position (instance.3, inputs.x.0): inline, no call per value.
                i = rest[0]
                by_key[key] = [
                    v[i] if v.__class__ is list and len(v) > i else walk(v, rest) for v in column
                ]
            else:
                by_key[key] = [walk(v, rest) for v in column]
        for key, path in self._record_paths.items():
            if records is None or partition is None:
                by_key[key] = [None] * len(index)
            else:
                read = record_reader(path, partition.topic, partition.partition)
                by_key[key] = [read(records[i]) for i in index]
        timestamps = np.full(count, np.nan)
        if "timestamp" in by_key:
            raw_times = by_key["timestamp"]
            fast = None
            if self._timestamp_unit != "iso8601" and set(map(type, raw_times)) <= _NUMBERS:
                # Every value a number (or missing): one C conversion, None becoming NaN.
                try:
                    fast = np.array(raw_times, dtype=np.float64) * _SCALE[self._timestamp_unit]
                except OverflowError:
                    # A JSON integer beyond float range ({"ts": 1e400} written out in digits
                    # decodes to a Python int): the per-value path below rejects just that one.
                    fast = None
            if fast is not None:
                timestamps = fast
            else:
                for j, raw in enumerate(raw_times):
                    try:
                        timestamps[j] = self._timestamp(raw)
                    except DecodeError as exc:
                        rejected.append(Rejected(index[j], exc))
                        index[j] = -1
        self._check_range(timestamps, index, rejected)
        keep = [j for j, i in enumerate(index) if i >= 0]
        if len(keep) != len(index):
            rejected.sort(key=lambda r: r.index)
            by_key = {k: [col[j] for j in keep] for k, col in by_key.items()}
            if numbers:
                numbers = {k: v[keep] for k, v in numbers.items()}
            timestamps = timestamps[keep]
            index = [index[j] for j in keep]
        empty: list[Any] = [None] * len(index)

        def col(key: str) -> list[Any]:
            return list(by_key[key]) if key in by_key else list(empty)

        return DecodedBatch(
            index=np.asarray(index, dtype=np.int64),
            ids=col("id"),
            timestamps=timestamps,
            models=col("model"),
            model_versions=col("model_version"),
            predictions=col("prediction"),
            labels=col("label"),
            features={n: col(f"f:{n}") for n in self.feature_names},
            segments={n: col(f"s:{n}") for n in self.segment_names},
            rejected=rejected,
            # None becomes NaN; the typed decoder let through nothing else that is not finite
            # (JSON has no NaN, and a number past float range fails it).
            numbers={n: np.array(by_key[f"f:{n}"], dtype=np.float64) for n in self._numbers}
            if typed
            else (numbers or {}),
        )

    def _check_range(
        self, timestamps: np.ndarray, index: list[int], rejected: list[Rejected]
    ) -> None:
        """Refuse event times outside the plausible range, naming the likely unit."""
        if not timestamps.size:
            return
        high = self._clock() + self._max_future
        self._times_checked += int(np.isfinite(timestamps).sum())
        with np.errstate(invalid="ignore"):
            bad = (timestamps < EARLIEST) | (timestamps > high)
        for j in np.flatnonzero(bad).tolist():
            if index[j] < 0:
                continue
            t = float(timestamps[j])
            message = f"event time {t:.6g} s is outside [2000-01-01, now + max future]"
            other = self._other_unit(t, high)
            if other is not None:
                self._looks_like[other] += 1
                message += f"; it looks like {other}, not {self._timestamp_unit} (timestamp_unit)"
            rejected.append(Rejected(index[j], DecodeError("timestamp_out_of_range", message)))
            index[j] = -1

    def take_time_counts(self) -> tuple[int, Counter[str]]:
        """Event times checked and out-of-range ones by the unit they look like, since the
        last call (which they are reset by)."""
        taken = (self._times_checked, self._looks_like)
        self._times_checked, self._looks_like = 0, Counter()
        return taken

    def _other_unit(self, t: float, high: float) -> str | None:
        """The unit in which event time ``t`` (seconds, as read) would be plausible."""
        unit = self._timestamp_unit
        if unit not in _SCALE:
            return None
        for other, scale in _SCALE.items():
            if other != unit and EARLIEST <= t / _SCALE[unit] * scale <= high:
                return other
        return None

    def _decode_one(self, value: bytes | None) -> Any:
        if value is None:
            raise DecodeError("empty", "record has no value (tombstone)")
        try:
            return self._one.decode(value)
        except msgspec.ValidationError as exc:
            raise DecodeError("wrong_shape", str(exc)) from None
        except msgspec.DecodeError as exc:
            raise DecodeError("invalid_json", str(exc)) from None
        except UnicodeDecodeError as exc:
            # msgspec validates UTF-8 only inside the strings it keeps, and raises this instead
            # of DecodeError; JSON must be UTF-8 (RFC 8259), so it is invalid JSON here.
            raise DecodeError("invalid_json", f"not UTF-8: {exc}") from None
        except RecursionError:
            # Arrays or objects nested past msgspec's depth limit where a mapped field is read.
            raise DecodeError("wrong_shape", "value nested too deeply") from None

    def _timestamp(self, raw: Any) -> float:
        """Event time in seconds since the epoch; NaN when the event carries none."""
        if raw is None:
            return math.nan
        unit = self._timestamp_unit
        if unit == "iso8601":
            if not isinstance(raw, str):
                raise DecodeError("bad_timestamp", f"expected an ISO 8601 string, got {raw!r}")
            try:
                return datetime.fromisoformat(raw).timestamp()
            except ValueError:
                raise DecodeError("bad_timestamp", f"not ISO 8601: {raw!r}") from None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise DecodeError("bad_timestamp", f"expected a number of {unit}, got {raw!r}")
        try:
            return float(raw) * _SCALE[unit]
        except OverflowError:
            # An integer with hundreds of digits: not a time, and float() cannot hold it.
            raise DecodeError("bad_timestamp", f"{unit} timestamp out of range") from None


def _by_schema_id(values: Sequence[bytes | None]) -> dict[int, list[int]] | None:
    """Positions of the values by the schema id of their wire prefix (a zero byte and four
    bytes of id), from one slice per value; None when a value is not on the wire format."""
    try:
        heads = [v[:5] for v in values]  # type: ignore[index]
    except TypeError:  # a tombstone
        return None
    distinct = set(heads)
    if any(len(h) != 5 or h[0] != 0 for h in distinct):
        return None
    if len(distinct) == 1:  # nearly always: one writer schema per batch
        return {int.from_bytes(heads[0][1:5], "big"): list(range(len(values)))}
    out: dict[int, list[int]] = {}
    for i, head in enumerate(heads):
        out.setdefault(int.from_bytes(head[1:5], "big"), []).append(i)
    return out


# A struct type and, per field in its order, the struct path of a leaf or a nested node.
_Node = tuple[type, list[tuple[str, "_Node | None"]]]


def _transpose(items: Sequence[Any], node: _Node, out: dict[str, Sequence[Any]]) -> None:
    """Columns of every leaf below ``node`` (by struct path) for a sequence of its structs:
    one C call per struct (astuple) and one transposition per level."""
    fields = node[1]
    columns = list(zip(*map(_astuple, items), strict=True)) if items else [()] * len(fields)
    for column, (path, child) in zip(columns, fields, strict=True):
        if child is None:
            out[path] = column
        else:
            _transpose(column, child, out)


def _compile(paths: list[str], types: dict[str, Any]) -> tuple[type, _Node]:
    """Nested msgspec structs for dotted struct paths, each leaf of ``types.get(path, Any)``,
    and their layout."""
    # StreamConfig guarantees no path is a prefix of another, so every node is a leaf or a dict.
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = path
    counter = iter(range(1_000_000))

    def build(node: dict[str, Any]) -> _Node:
        fields: list[tuple[str, Any, Any]] = []
        layout: list[tuple[str, _Node | None]] = []
        rename: dict[str, str] = {}
        for json_key, child in node.items():
            attr = f"a{next(counter)}"
            rename[attr] = json_key
            if isinstance(child, dict):
                sub = build(child)
                fields.append((attr, sub[0], msgspec.field(default_factory=sub[0])))
                layout.append(("", sub))
            else:
                fields.append((attr, types.get(child, Any), None))
                layout.append((child, None))
        struct = msgspec.defstruct(
            f"Node{next(counter)}",
            fields,
            rename=rename,
            kw_only=True,
            forbid_unknown_fields=False,
            # Decoded structs hold only scalars; untracked by the cyclic GC, bulk decoding
            # does not trigger collections.
            gc=False,
        )
        return struct, layout

    layout = build(tree)
    return layout[0], layout
