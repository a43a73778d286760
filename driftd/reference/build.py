"""``driftd reference build``: a reference profile from CSV, Parquet or JSONL training data.

The file is read in record batches (pyarrow), so memory holds the numeric columns as float64
plus category counts: 1 million rows × 50 numeric columns is about 400 MB.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors import bin_counts, quantile_edges
from driftd.errors import ProfileError
from driftd.reference.performance import reference_performance
from driftd.reference.profile import (
    CategoricalSummary,
    FeatureProfile,
    FeatureType,
    NumericSummary,
    Profile,
)

# Training categories beyond the histogram domain that are remembered as "known", so they are
# not reported as unseen; past this many the profile stops listing them.
KNOWN_OTHER_CAP = 10_000


@dataclass(frozen=True)
class BuildOptions:
    """How to build a profile; every field has a sensible default."""

    types: dict[str, FeatureType] = field(default_factory=dict)
    exclude: frozenset[str] = frozenset()
    id_column: str | None = None
    label: str | None = None
    prediction: str | None = None
    bins: int = 10
    ks_sample_size: int = 20_000
    max_categories: int = 50
    seed: int = 0
    positive_label: str = "1"
    batch_rows: int = 65_536


def _batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        elif suffix in {".csv", ".csv.gz"}:
            import pyarrow.csv as pcsv

            yield from pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=16 << 20))
        elif suffix in {".jsonl", ".ndjson", ".json", ".jsonl.gz"}:
            import pyarrow.json as pjson

            yield from pjson.open_json(path, read_options=pjson.ReadOptions(block_size=16 << 20))
        else:
            raise ProfileError(
                f"{path}: unknown input type {path.suffix!r}; use .csv, .parquet or .jsonl"
            )
    except FileNotFoundError:
        raise ProfileError(f"{path} does not exist") from None
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from None


def _infer(arrow_type: pa.DataType) -> FeatureType | None:
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_dictionary(arrow_type)
        or pa.types.is_null(arrow_type)
    ):
        return "categorical"
    return None


class _Column:
    """Accumulates one column across batches."""

    def __init__(self, name: str, kind: FeatureType) -> None:
        self.name = name
        self.kind = kind
        self.chunks: list[np.ndarray] = []
        self.categories: Counter[str] = Counter()
        self.missing = 0

    def add(self, array: pa.Array) -> None:
        if self.kind == "numeric":
            try:
                values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ProfileError(
                    f"column {self.name!r} is declared numeric but holds {array.type}: {exc}"
                ) from None
            self.chunks.append(np.asarray(values, dtype=np.float64))
        else:
            self.missing += array.null_count
            as_text = pc.cast(array, pa.string()) if not pa.types.is_string(array.type) else array
            if pa.types.is_boolean(array.type):
                as_text = pc.if_else(array, "true", "false")
            counts = pc.value_counts(as_text.drop_null())
            for item in counts.to_pylist():
                self.categories[str(item["values"])] += int(item["counts"])

    def values(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.empty(0)


def build_profile(
    path: str | Path,
    options: BuildOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> Profile:
    """Read ``path`` and summarise every feature column (and label/prediction if named)."""
    path = Path(path)
    options = options or BuildOptions()
    columns: dict[str, _Column] = {}
    label_chunks: list[pa.Array] = []
    pred_chunks: list[pa.Array] = []
    rows = 0
    skip = set(options.exclude) | {c for c in (options.id_column, options.label) if c}
    for batch in _batches(path, options.batch_rows):
        if not columns:
            _check_named_columns(batch.schema.names, options, path)
            for name, arrow_type in zip(batch.schema.names, batch.schema.types, strict=True):
                if name in skip:
                    continue
                kind = options.types.get(name) or _infer(arrow_type)
                if kind is None:
                    raise ProfileError(
                        f"{path}: column {name!r} has type {arrow_type}, which is neither numeric "
                        "nor categorical; exclude it or give it a type"
                    )
                columns[name] = _Column(name, kind)
        for name, col in columns.items():
            col.add(batch.column(name))
        if options.label:
            label_chunks.append(batch.column(options.label))
        if options.prediction:
            pred_chunks.append(batch.column(options.prediction))
        rows += batch.num_rows
        if progress is not None:
            progress(rows)
    if rows == 0:
        raise ProfileError(f"{path}: no rows to build a profile from")
    rng = np.random.default_rng(options.seed)
    features = {name: _summarise(col, options, rng) for name, col in columns.items()}
    performance: dict[str, float] = {}
    task = None
    if options.label and options.prediction:
        labels = pa.chunked_array(label_chunks).to_pylist()
        preds = pa.chunked_array(pred_chunks).to_pylist()
        task, performance = reference_performance(labels, preds, options.positive_label)
    return Profile(
        features=features,
        rows=rows,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        source=path.name,
        prediction=options.prediction,
        label=options.label,
        performance=performance,
        task=task,
    )


def _check_named_columns(names: list[str], options: BuildOptions, path: Path) -> None:
    for role in ("id_column", "label", "prediction"):
        column = getattr(options, role)
        if column and column not in names:
            raise ProfileError(
                f"{path}: {role.replace('_column', '')} column {column!r} "
                f"not found (columns: {', '.join(names)})"
            )
    for name in options.types:
        if name not in names:
            raise ProfileError(f"{path}: a type is given for {name!r}, which is not a column")


def _summarise(col: _Column, options: BuildOptions, rng: np.random.Generator) -> FeatureProfile:
    if col.kind == "numeric":
        raw = col.values()
        finite = raw[np.isfinite(raw)]
        missing = int(raw.size - finite.size)
        if finite.size == 0:
            raise ProfileError(f"numeric column {col.name!r} has no finite value")
        edges = quantile_edges(finite, options.bins)
        take = min(options.ks_sample_size, finite.size)
        sample = finite if take == finite.size else rng.choice(finite, take, replace=False)
        numeric = NumericSummary(
            edges=edges,
            counts=bin_counts(finite, edges),
            sample=np.sort(sample),
            minimum=float(finite.min()),
            maximum=float(finite.max()),
            mean=float(finite.mean()),
            std=float(finite.std()),
        )
        return FeatureProfile(col.name, "numeric", int(finite.size), missing, numeric=numeric)
    ranked = sorted(col.categories.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = ranked[: options.max_categories]
    other = sum(count for _, count in ranked[options.max_categories :])
    counts = np.array([c for _, c in kept] + [other], dtype=np.int64)
    rest = ranked[options.max_categories :]
    summary = CategoricalSummary(
        domain=tuple(k for k, _ in kept),
        counts=counts,
        known_other=tuple(k for k, _ in rest[:KNOWN_OTHER_CAP]),
        complete=len(rest) <= KNOWN_OTHER_CAP,
    )
    total = int(counts.sum())
    return FeatureProfile(col.name, "categorical", total, col.missing, categorical=summary)


def progress_printer(total_hint: int | None = None) -> Callable[[int], None]:
    """A progress callback printing rows read (and rate) to stderr at most twice a second."""
    started = time.monotonic()
    last = [0.0]

    def report(rows: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5:
            return
        last[0] = now
        rate = rows / max(now - started, 1e-9)
        of = f"/{total_hint:,}" if total_hint else ""
        print(f"\rread {rows:,}{of} rows ({rate:,.0f} rows/s)", end="", file=sys.stderr)

    return report


def load_build_options(path: str | Path) -> BuildOptions:
    """Build options from the ``reference:`` section of a YAML file (see configs/)."""
    import yaml

    raw: Any = yaml.safe_load(Path(path).read_text())
    section = raw.get("reference", raw) if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise ProfileError(f"{path}: expected a mapping with reference build options")
    from driftd.reference.options import BuildOptionsModel

    return BuildOptionsModel.model_validate(section).to_options()
