"""Reference data from logged traffic: a file of records decoded as a stream decodes them.

``driftd reference build --stream kserve --driftd-config driftd.yaml --input requests.jsonl``
reads each line as a record of that stream (its ``protocol`` and field paths, so KServe or
Open Inference Protocol payloads give one row per instance), writes the features, prediction
and label as flat JSON lines, and builds the profile from those. Record paths (key, headers,
kafka.*) have nothing to read in a file and stay missing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import IO

import msgspec

from driftd.config.models import DriftdConfig, StreamConfig
from driftd.decoding import StreamDecoder
from driftd.errors import ConfigError
from driftd.sources.files import read_batches


def columns_of(config: DriftdConfig, stream_name: str) -> tuple[str | None, str | None]:
    """The column names the prediction and label get (None when the stream maps none)."""
    stream = _stream(config, stream_name)
    taken = set(stream.fields.feature_paths())
    prediction = _free("prediction", taken) if stream.fields.prediction else None
    label = _free("label", taken) if stream.fields.label else None
    return prediction, label


def flatten(
    config: DriftdConfig, stream_name: str, path: str | Path, out: IO[bytes]
) -> Counter[str]:
    """Write one flat JSON object per decoded event of ``path``; returns counts: ``events``,
    ``records`` and one entry per rejection reason."""
    stream = _stream(config, stream_name)
    decoder = StreamDecoder(stream)
    prediction, label = columns_of(config, stream_name)
    encode = msgspec.json.Encoder().encode
    counts: Counter[str] = Counter()
    for values in read_batches(path):
        batch = decoder.decode(values)
        counts["records"] += len(values)
        counts["events"] += len(batch)
        for rejected in batch.rejected:
            counts[rejected.error.reason] += 1
        names = list(batch.features)
        for j in range(len(batch)):
            row = {name: batch.features[name][j] for name in names}
            if prediction is not None:
                row[prediction] = batch.predictions[j]
            if label is not None:
                row[label] = batch.labels[j]
            out.write(encode(row) + b"\n")
    return counts


def _stream(config: DriftdConfig, name: str) -> StreamConfig:
    for stream in config.streams:
        if stream.name == name:
            return stream
    names = ", ".join(s.name for s in config.streams)
    raise ConfigError(f"--stream {name!r}: the config has no such stream (it has: {names})")


def _free(name: str, taken: set[str]) -> str:
    while name in taken:
        name = "_" + name
    return name
