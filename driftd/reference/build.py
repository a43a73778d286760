"""``driftd reference build``: a reference profile from CSV, Parquet or JSONL training data.

The file is read in record batches (pyarrow), so memory holds the numeric columns as float64
plus category counts: 1 million rows × 50 numeric columns is about 400 MB.

Column types are inferred unless ``BuildOptions.types`` declares them: numbers are numeric,
text and booleans categorical. A text column is checked too: when at least ``MOSTLY_NUMERIC``
(95 %) of its non-missing values are numbers but some are not (9,999 numbers and one "12,5"),
it is neither typed numeric nor silently made categorical; the build stops with a
``MixedTypesError`` naming the column, how many values are not numbers and the first of them,
until the column is declared: numeric (values that are not numbers count as missing, and a
notice says how many) or categorical (every value is a category). In CSV, empty cells and
pyarrow's missing markers (``NA``, ``N/A``, ``n/a``, ``null``, ``NaN``, ...) are missing values,
as they are in a numeric CSV column, not values that fail to parse. Rows are numbered from 1,
not counting a CSV header.

pyarrow's CSV reader infers types from the first block (``BLOCK_BYTES``, 16 MB); a value further
on that does not fit (text in a column of numbers, ``1.5`` in a column of integers) makes the
file be read again with that column as text or floating point. A JSON lines file that pyarrow
cannot read (a field that is a number on one line and a string on another) is read again with
Python's json module.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors import bin_counts, quantile_edges
from driftd.errors import ProfileError
from driftd.reference.joint import build_joint
from driftd.reference.performance import reference_performance
from driftd.reference.profile import (
    CategoricalSummary,
    FeatureProfile,
    FeatureType,
    NumericSummary,
    Profile,
)
from driftd.reference.streaming import NumericStream, Reservoir
from driftd.reference.vectors import VectorReservoir

log = logging.getLogger(__name__)

# Training categories beyond the histogram domain that are remembered as "known", so they are
# not reported as unseen; past this many the profile stops listing them.
KNOWN_OTHER_CAP = 10_000

# CSV and JSON are read (and their column types inferred by pyarrow) this many bytes at a time.
BLOCK_BYTES = 16 << 20

# Complete rows kept beside the joint sample, for fitting its PCA basis (more add nothing).
JOINT_FIT_ROWS = 50_000

# A text column with at least this share of numbers among its non-missing values, but not all,
# is reported instead of being typed (see the module docstring).
MOSTLY_NUMERIC = 0.95

# What pyarrow's string-to-float64 cast accepts (checked against it), for counting per value.
_NUMBER = r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:nan|inf|infinity))$"


@dataclass(frozen=True)
class BuildOptions:
    """How to build a profile; every field has a sensible default.

    ``types`` declares a column's type instead of inferring it: ``"numeric"`` reads numbers and
    counts values that are not numbers as missing (with a notice saying how many), and
    ``"categorical"`` keeps every value as a category. Declaring is how a column that is mostly
    but not only numbers (a ``MixedTypesError``) gets built.
    """

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
    joint_sample_size: int = 10_000
    pca_variance: float = 0.65


@dataclass
class Unparsed:
    """The values of a text column that are not numbers: how many of how many, and the first."""

    total: int = 0  # non-missing values seen
    bad: int = 0
    first_row: int = 0  # 1-based row of the first value that is not a number; 0: none yet
    first_value: str = ""

    @property
    def mostly_numeric(self) -> bool:
        """Some values are not numbers, but at least ``MOSTLY_NUMERIC`` of them are."""
        return self.bad > 0 and self.total - self.bad >= MOSTLY_NUMERIC * self.total

    def describe(self) -> str:
        """E.g. ``1 of 10,000 non-missing values is not a number (first at row 12: '12,5')``."""
        verb = "is not a number" if self.bad == 1 else "are not numbers"
        value = self.first_value if len(self.first_value) <= 40 else self.first_value[:40] + "..."
        return (
            f"{self.bad:,} of {self.total:,} non-missing values {verb} "
            f"(first at row {self.first_row:,}: {value!r})"
        )


class MixedTypesError(ProfileError):
    """Columns that are mostly numbers but hold some values that are not (exit code 2 in the
    CLI); ``columns`` maps each column to its ``Unparsed`` counts."""

    def __init__(self, path: Path, columns: dict[str, Unparsed]) -> None:
        self.columns = columns
        if len(columns) == 1:
            ((name, unparsed),) = columns.items()
            arg = shlex.quote(name)
            message = (
                f"{path}: column {name!r} looks numeric, but {unparsed.describe()}. Fix the data, "
                f"or say what the column is: --numeric {arg} (values that are not numbers count "
                f"as missing) or --categorical {arg} (every value is a category); in a --config "
                "file: types: {" + f"{name}: numeric" + "}"
            )
        else:
            lines = "\n".join(f"  - {name!r}: {u.describe()}" for name, u in columns.items())
            message = (
                f"{path}: {len(columns)} columns look numeric but hold values that are not "
                f"numbers:\n{lines}\nFix the data, or say what each column is: --numeric COLUMN "
                "(values that are not numbers count as missing) or --categorical COLUMN (every "
                "value is a category); in a --config file: types: {COLUMN: numeric}"
            )
        super().__init__(message)


@dataclass(frozen=True)
class _Reading:
    """How the file is read; a value that does not fit what a reader inferred changes it."""

    as_float: frozenset[str] = frozenset()  # CSV columns read as float64 (integers, then 1.5)
    as_text: frozenset[str] = frozenset()  # CSV columns read as text (numbers, then "n/a")
    python_json: bool = False  # JSON lines read with Python's json module


class _RereadError(Exception):
    """Start reading the file again, the way ``reading`` says; ``note`` tells the user why."""

    def __init__(self, reading: _Reading, note: str) -> None:
        super().__init__(note)
        self.reading = reading
        self.note = note


def _kind_of(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".csv", ".csv.gz"}:
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json", ".jsonl.gz"}:
        return "json"
    if suffix == ".avro":
        return "avro"
    raise ProfileError(
        f"{path}: unknown input type {path.suffix!r}; use .csv, .parquet, .jsonl or .avro"
    )


_CSV_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value")


def _batches(
    path: Path, batch_rows: int, reading: _Reading, omit: frozenset[str]
) -> Iterator[pa.RecordBatch]:
    """The file's record batches; ``omit`` names columns whose values are not needed."""
    kind = _kind_of(path)
    names: list[str] = []
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            # One row group at a time: over the whole file pyarrow's reader runs ahead of a
            # slower consumer and buffers decoded row groups (peak memory grew with the file:
            # 1.3 GB of Arrow memory at 3 M rows x 50 columns, 0.55 GB at 1 M).
            parquet = pq.ParquetFile(path)
            for group in range(parquet.num_row_groups):
                yield from parquet.iter_batches(batch_size=batch_rows, row_groups=[group])
        elif kind == "csv":
            import pyarrow.csv as pcsv

            types = dict.fromkeys(reading.as_float, pa.float64())
            types.update(dict.fromkeys(reading.as_text, pa.string()))
            reader = pcsv.open_csv(
                path,
                read_options=pcsv.ReadOptions(block_size=BLOCK_BYTES),
                convert_options=pcsv.ConvertOptions(column_types=types),
            )
            names = reader.schema.names
            yield from reader
        elif kind == "avro":
            yield from _avro_batches(path, batch_rows, omit)
        elif reading.python_json:
            yield from _python_json_batches(path, batch_rows, omit)
        else:
            import pyarrow.json as pjson

            try:
                yield from pjson.open_json(
                    path, read_options=pjson.ReadOptions(block_size=BLOCK_BYTES)
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                note = (
                    f"pyarrow cannot read {path} ({exc}); reading it again with Python's json "
                    "module, which is slower"
                )
                raise _RereadError(replace(reading, python_json=True), note) from None
    except FileNotFoundError:
        raise ProfileError(f"training data {path} does not exist (--input)") from None
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        found = _CSV_CONVERSION.search(str(exc))
        if found and int(found[1]) < len(names):
            raise _csv_reread(path, reading, names[int(found[1])], found[2], str(exc)) from None
        raise ProfileError(f"{path}: cannot read: {exc}") from None


def _csv_reread(path: Path, reading: _Reading, name: str, target: str, error: str) -> Exception:
    """After the CSV reader met a value its inferred column type cannot hold, past the block
    it inferred the type from: read integers as floats, and other numbers as text."""
    value = error.split("invalid value", 1)[1].strip()
    integer = target.startswith(("int", "uint"))
    if integer and name not in reading.as_float | reading.as_text:
        again = replace(reading, as_float=reading.as_float | {name})
        how = "floating point"
    elif target in {"double", "float"} or integer:
        if name in reading.as_text:
            return ProfileError(f"{path}: cannot read: {error}")
        again = replace(reading, as_text=reading.as_text | {name})
        how = "text"
    else:  # a timestamp or boolean column with a stray value: not a numeric matter
        return ProfileError(f"{path}: cannot read: {error}")
    note = f"column {name!r} of {path} holds {value} after its first rows; reading it again as "
    note += how
    return _RereadError(again, note)


# Avro primitive types as Arrow types; anything else (arrays, maps, fixed) is not a feature.
_AVRO_TYPES = {
    "int": pa.int64(),
    "long": pa.int64(),
    "float": pa.float64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "enum": pa.string(),
}


def _avro_batches(path: Path, batch_rows: int, omit: frozenset[str]) -> Iterator[pa.RecordBatch]:
    """Records of an Avro container file (its writer schema gives the column types); nested
    records become dotted names (``features.amount``), as in Parquet input."""
    import fastavro

    with path.open("rb") as f:
        try:
            reader = fastavro.reader(f)
        except (ValueError, fastavro.read.SchemaResolutionError) as exc:
            raise ProfileError(f"{path}: not an Avro container file ({exc})") from None
        types = {
            name: pa.null() if name in omit else t
            for name, t in _avro_columns(reader.writer_schema, "").items()
        }
        schema = pa.schema(list(types.items()))
        blank = {name for name, t in types.items() if t == pa.null()}
        rows: list[dict[str, Any]] = []
        for record in reader:
            row = _flat(record, "")
            for name in blank:
                row[name] = None
            rows.append(row)
            if len(rows) == batch_rows:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)
                rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)


def _avro_columns(schema: Any, prefix: str) -> dict[str, pa.DataType]:
    out: dict[str, pa.DataType] = {}
    for spec in schema.get("fields", ()) if isinstance(schema, dict) else ():
        name = prefix + spec["name"]
        kind = spec["type"]
        if isinstance(kind, list):  # a union: ["null", T] is an optional T
            options = [k for k in kind if k != "null"]
            kind = options[0] if len(options) == 1 else None
        if isinstance(kind, dict) and kind.get("type") == "record":
            out.update(_avro_columns(kind, name + "."))
            continue
        if isinstance(kind, dict):
            kind = (kind.get("logicalType") and None) or kind.get("type")
        arrow = _AVRO_TYPES.get(kind) if isinstance(kind, str) else None
        out[name] = arrow if arrow is not None else pa.null()
    return out


def _flat(record: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _python_json_batches(
    path: Path, batch_rows: int, omit: frozenset[str]
) -> Iterator[pa.RecordBatch]:
    """JSON lines read with Python's json module, for files pyarrow refuses (a field holding
    numbers on some lines and strings on others). Two passes: the first finds the kinds of
    value every field holds, so every batch has the same schema; a field with numbers and
    strings (or booleans) becomes text, its numbers written as JSON writes them. Columns in
    ``omit`` are all null, whatever they hold."""
    kinds: dict[str, set[type]] = {}
    for obj in _json_objects(path):
        for key, value in obj.items():
            kinds.setdefault(key, set()).add(_json_kind(value))
    types = {
        name: pa.null() if name in omit else _json_type(name, found, path)
        for name, found in kinds.items()
    }
    rows: list[dict[str, Any]] = []
    for obj in _json_objects(path):
        rows.append(obj)
        if len(rows) == batch_rows:
            yield _json_batch(rows, types)
            rows = []
    if rows:
        yield _json_batch(rows, types)


def _json_objects(path: Path) -> Iterator[dict[str, Any]]:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ProfileError(f"{path}: line {number} is not valid JSON: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise ProfileError(f"{path}: line {number} is not a JSON object")
            yield obj


_INT64 = 1 << 63


def _json_kind(value: Any) -> type:
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        return float  # beyond int64: a float64 still holds it
    if isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return list  # a vector (embedding)
    return type(value) if isinstance(value, str | int | float | bool | None) else object


def _json_type(name: str, found: set[type], path: Path) -> pa.DataType:
    found = found - {type(None)}
    if object in found:
        raise ProfileError(
            f"{path}: column {name!r} holds JSON objects or lists, which are neither numeric "
            f"nor categorical; exclude it (--exclude {shlex.quote(name)})"
        )
    if not found:
        return pa.null()
    if found == {list}:
        return pa.list_(pa.float64())
    if list in found:
        raise ProfileError(
            f"{path}: column {name!r} holds lists of numbers on some lines and other values on "
            f"others; make it one or the other, or exclude it (--exclude {shlex.quote(name)})"
        )
    if found == {int}:
        return pa.int64()
    if found <= {int, float}:
        return pa.float64()
    if found == {bool}:
        return pa.bool_()
    return pa.string()


def _json_batch(rows: list[dict[str, Any]], types: dict[str, pa.DataType]) -> pa.RecordBatch:
    arrays = []
    for name, arrow_type in types.items():
        if arrow_type == pa.null():
            arrays.append(pa.nulls(len(rows)))
            continue
        values = [row.get(name) for row in rows]
        if arrow_type == pa.string():
            values = [
                v if v is None or isinstance(v, str) else json.dumps(v)  # True -> "true"
                for v in values
            ]
        elif arrow_type == pa.float64():  # ints among floats, some perhaps beyond int64
            values = [v if v is None else float(v) for v in values]
        elif pa.types.is_list(arrow_type):
            values = [v if v is None else [float(x) for x in v] for v in values]
        arrays.append(pa.array(values, type=arrow_type))
    return pa.RecordBatch.from_arrays(arrays, names=list(types))


def _infer(arrow_type: pa.DataType) -> FeatureType | None:
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if (
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
    ) and (
        pa.types.is_integer(arrow_type.value_type) or pa.types.is_floating(arrow_type.value_type)
    ):
        return "vector"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_dictionary(arrow_type)
        or pa.types.is_null(arrow_type)
    ):
        return "categorical"
    return None


def _is_text(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _classify(array: pa.Array, nulls: pa.Array | None) -> tuple[pa.Array, pa.Array]:
    """Trimmed text (null where missing: null, or one of ``nulls``, CSV's spellings of a
    missing value) and whether each value is a number (False where missing)."""
    text = pc.utf8_trim_whitespace(array.cast(pa.string()))
    if nulls is not None:
        text = pc.if_else(pc.is_in(text, value_set=nulls), pa.scalar(None, pa.string()), text)
    return text, pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)


def _first_bad(unparsed: Unparsed, array: pa.Array, bad: np.ndarray, first_row: int) -> None:
    """Remember the first value of ``array`` (whose first row is ``first_row``) where ``bad``."""
    if bad.any() and not unparsed.bad:
        index = int(np.argmax(bad))
        unparsed.first_row = first_row + index
        unparsed.first_value = str(array[index].as_py())


def _numbers(
    array: pa.Array, nulls: pa.Array | None, unparsed: Unparsed, first_row: int
) -> np.ndarray:
    """float64 values of a text array (NaN where missing or not a number), counting into
    ``unparsed`` the values that are not numbers; ``first_row`` is the row of ``array[0]``."""
    text, number = _classify(array, nulls)
    unparsed.total += len(text) - text.null_count
    bad = np.asarray(pc.and_(pc.is_valid(text), pc.invert(number)), dtype=bool)
    _first_bad(unparsed, array, bad, first_row)
    unparsed.bad += int(bad.sum())
    numbers = pc.if_else(number, text, pa.scalar(None, pa.string()))
    return pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False)


def _tally(
    array: pa.Array,
    distinct: pa.StructArray,
    nulls: pa.Array | None,
    unparsed: Unparsed,
    first_row: int,
) -> None:
    """Count into ``unparsed`` the values of a text array that are not numbers, from its
    ``value_counts`` (``distinct``), so a categorical column costs a check per category."""
    values = distinct.field("values")
    counts = np.asarray(distinct.field("counts"), dtype=np.int64)
    text, number = _classify(values, nulls)
    present = np.asarray(pc.is_valid(text), dtype=bool)
    bad = present & ~np.asarray(number, dtype=bool)
    unparsed.total += int(counts[present].sum())
    if bad.any() and not unparsed.bad:
        where = pc.is_in(array, value_set=values.filter(pa.array(bad)))
        _first_bad(unparsed, array, np.asarray(pc.fill_null(where, False), dtype=bool), first_row)
    unparsed.bad += int(counts[bad].sum())


class _Column:
    """Accumulates one column across batches; ``declared`` when its type was given."""

    def __init__(
        self,
        name: str,
        kind: FeatureType,
        declared: bool,
        nulls: pa.Array | None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.declared = declared
        self.nulls = nulls
        self.stream = NumericStream(rng or np.random.default_rng(0))
        self.categories: Counter[str] = Counter()
        self.missing = 0
        self.unparsed = Unparsed()
        self.vectors: VectorReservoir | None = None

    def add(self, array: pa.Array, first_row: int) -> np.ndarray | None:
        """Take the next batch's values; ``first_row`` is the (1-based) row of the first.
        Returns a numeric column's values (NaN where missing)."""
        if self.kind == "vector":
            if self.vectors is None:
                self.vectors = VectorReservoir(self.name)
            self.vectors.add(array)
        elif self.kind == "numeric":
            values = self.numbers(array, first_row, self.unparsed)
            self.stream.add(values)
            return values
        else:
            self.missing += array.null_count
            as_text = pc.cast(array, pa.string()) if not pa.types.is_string(array.type) else array
            if pa.types.is_boolean(array.type):
                as_text = pc.if_else(array, "true", "false")
            counts = pc.value_counts(as_text.drop_null())
            if _is_text(array.type) and not self.declared:
                _tally(as_text, counts, self.nulls, self.unparsed, first_row)
            for item in counts.to_pylist():
                self.categories[str(item["values"])] += int(item["counts"])
        return None

    def numbers(self, array: pa.Array, first_row: int, unparsed: Unparsed) -> np.ndarray:
        """A numeric column's values of one batch as float64, NaN where missing."""
        if _is_text(array.type):
            values = _numbers(array, self.nulls, unparsed, first_row)
        else:
            try:
                values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ProfileError(
                    f"column {self.name!r} is declared numeric but holds {array.type}: {exc}"
                ) from None
        return np.asarray(values, dtype=np.float64)


def build_profile(
    path: str | Path,
    options: BuildOptions | None = None,
    progress: Callable[[int], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> Profile:
    """Read ``path`` and summarise every feature column (and label/prediction if named).

    Raises ``MixedTypesError`` for columns that are mostly but not only numbers and have no
    declared type (see the module docstring), ``ProfileError`` for other unusable input.
    ``notice`` receives what the user should know but that does not stop the build (values
    of a declared numeric column that are not numbers, a file read twice); default: a warning
    on this module's logger.
    """
    path = Path(path)
    options = options or BuildOptions()
    tell = notice or log.warning
    reading = _Reading()
    while True:
        try:
            return _build(path, options, reading, progress, tell)
        except _RereadError as again:
            if again.reading == reading:  # cannot happen: every reread changes how
                raise ProfileError(f"{path}: cannot read: {again.note}") from None
            reading = again.reading
            tell(again.note)


def _build(
    path: Path,
    options: BuildOptions,
    reading: _Reading,
    progress: Callable[[int], None] | None,
    notice: Callable[[str], None],
) -> Profile:
    columns: dict[str, _Column] = {}
    label_chunks: list[pa.Array] = []
    pred_chunks: list[pa.Array] = []
    rows = 0
    skip = set(options.exclude) | {c for c in (options.id_column, options.label) if c}
    nulls = _csv_nulls() if _kind_of(path) == "csv" else None
    omit = options.exclude | {c for c in (options.id_column,) if c}
    for batch in _batches(path, options.batch_rows, reading, omit):
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
                seed = np.random.default_rng([options.seed, 17, len(columns)])
                columns[name] = _Column(name, kind, name in options.types, nulls, seed)
            together = [
                n for n, c in columns.items() if c.kind == "numeric" and n != options.prediction
            ]
            joint_rows = Reservoir(
                options.joint_sample_size + JOINT_FIT_ROWS,
                len(together),
                np.random.default_rng([options.seed, 29]),
            )
        numbers: dict[str, np.ndarray] = {}
        for name, col in columns.items():
            values = col.add(batch.column(name), first_row=rows + 1)
            if values is not None:
                numbers[name] = values
        if len(together) >= 2 and options.joint_sample_size > 0:
            block = np.column_stack([numbers[n] for n in together])
            joint_rows.add(block[np.isfinite(block).all(axis=1)])
        if options.label:
            label_chunks.append(batch.column(options.label))
        if options.prediction:
            pred_chunks.append(batch.column(options.prediction))
        rows += batch.num_rows
        if progress is not None:
            progress(rows)
    if rows == 0:
        raise ProfileError(f"{path}: no rows to build a profile from")
    mixed = {
        name: col.unparsed
        for name, col in columns.items()
        if col.kind == "categorical" and not col.declared and col.unparsed.mostly_numeric
    }
    if mixed:
        raise MixedTypesError(path, mixed)
    for name, col in columns.items():
        if col.kind == "numeric" and col.unparsed.bad:
            notice(f"column {name!r}: {col.unparsed.describe()}; counted as missing")
    rng = np.random.default_rng(options.seed)
    features = {name: _summarise(col, options, rng) for name, col in columns.items()}
    inexact = {
        n: f for n, f in features.items() if f.numeric is not None and f.numeric.counts.size == 0
    }
    if inexact:
        features |= _count_bins(path, options, reading, omit, columns, inexact)
    joint = None
    if len(together) >= 2:
        kept = joint_rows.values()
        joint = build_joint(
            together,
            list(kept.T),
            options.joint_sample_size,
            options.pca_variance,
            np.random.default_rng(options.seed + 1),
        )
    performance: dict[str, float] = {}
    task = None
    if options.label and options.prediction:
        labels = _pylist(label_chunks)
        preds = _pylist(pred_chunks)
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
        joint=joint,
    )


def _count_bins(  # noqa: PLR0917 (one private call site)
    path: Path,
    options: BuildOptions,
    reading: _Reading,
    omit: frozenset[str],
    columns: dict[str, _Column],
    features: dict[str, FeatureProfile],
) -> dict[str, FeatureProfile]:
    """Exact bin counts of the numeric columns whose values outnumbered their reservoir, by
    reading the file once more (the same way the first pass ended up reading it)."""
    counts = {
        n: np.zeros(f.numeric.edges.size + 1, dtype=np.int64)  # type: ignore[union-attr]
        for n, f in features.items()
    }
    rows = 0
    for batch in _batches(path, options.batch_rows, reading, omit):
        for name, total in counts.items():
            values = columns[name].numbers(batch.column(name), rows + 1, Unparsed())
            finite = values[np.isfinite(values)]
            np.add(total, bin_counts(finite, features[name].numeric.edges), out=total)  # type: ignore[union-attr]
        rows += batch.num_rows
    return {
        n: replace(f, numeric=replace(f.numeric, counts=counts[n]))  # type: ignore[type-var]
        for n, f in features.items()
    }


def _csv_nulls() -> pa.Array:
    import pyarrow.csv as pcsv

    return pa.array(pcsv.ConvertOptions().null_values, type=pa.string())


def _pylist(chunks: Iterable[pa.Array]) -> list[Any]:
    # Chunk by chunk: a column re-read as text or float may differ in type between readers.
    return [value for chunk in chunks for value in chunk.to_pylist()]


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
    if col.kind == "vector":
        if col.vectors is None:
            raise ProfileError(f"vector column {col.name!r} has no rows")
        return col.vectors.summary(options.joint_sample_size, options.pca_variance, rng)
    if col.kind == "numeric":
        stream = col.stream
        finite = stream.reservoir.values()
        if finite.size == 0:
            raise ProfileError(f"numeric column {col.name!r} has no finite value")
        edges = quantile_edges(finite, options.bins)
        take = min(options.ks_sample_size, finite.size)
        sample = finite if take == finite.size else rng.choice(finite, take, replace=False)
        if stream.exact:  # every value is in the reservoir: the exact whole-column summary
            counts = bin_counts(finite, edges)
            mean, std = float(finite.mean()), float(finite.std())
        else:  # counted by a second pass over the file (_count_bins)
            counts = np.empty(0, dtype=np.int64)
            mean, std = stream.mean, stream.std
        numeric = NumericSummary(
            edges=edges,
            counts=counts,
            sample=np.sort(sample),
            minimum=stream.minimum,
            maximum=stream.maximum,
            mean=mean,
            std=std,
        )
        return FeatureProfile(col.name, "numeric", stream.count, stream.missing, numeric=numeric)
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


def load_build_options(path: str | Path) -> BuildOptions:
    """Build options from the ``reference:`` section of a YAML file (see configs/)."""
    import yaml

    raw: Any = yaml.safe_load(Path(path).read_text())
    section = raw.get("reference", raw) if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise ProfileError(f"{path}: expected a mapping with reference build options")
    from driftd.reference.options import BuildOptionsModel

    return BuildOptionsModel.model_validate(section).to_options()
