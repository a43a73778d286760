"""Checkpoints: the processor's state and the offsets it covers, saved together atomically.

A checkpoint is a directory ``ckpt-<seq>`` under ``state.dir`` holding ``monitors.npz`` (open
windows and adaptive thresholds, JSON metadata plus arrays, no pickle), one file per concept
monitor (label join, river detectors, performance window) and ``offsets.json`` (the next offset
to read per partition). It is written under a temporary name, fsynced, renamed, and only then
named by the ``CURRENT`` file (itself replaced atomically), so a crash at any point leaves the
previous checkpoint intact. Offsets are committed to Kafka only after a checkpoint, and on start
the daemon restores the newest checkpoint and seeks each partition to its offset.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from driftd.errors import DriftdError
from driftd.sources.base import Partition

log = logging.getLogger(__name__)


class CheckpointError(DriftdError):
    """A checkpoint that cannot be written or read."""


class Checkpointed(Protocol):
    """A processor whose state can be saved into and restored from a directory."""

    def save_state(self, directory: Path) -> None: ...
    def restore_state(self, directory: Path) -> None: ...


@dataclass(frozen=True)
class Checkpoint:
    """A restored checkpoint: where its files are and the offsets it covers."""

    directory: Path
    offsets: dict[Partition, int]
    sequence: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CheckpointStore:
    """Writes and finds checkpoints under one directory (one store per replica)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"cannot create state directory {directory}: {exc}") from exc
        self._sequence = self._current_sequence()

    def _current_sequence(self) -> int:
        current = self.directory / "CURRENT"
        if not current.exists():
            return 0
        name = current.read_text().strip()
        try:
            return int(name.removeprefix("ckpt-"))
        except ValueError:
            raise CheckpointError(f"{current} names {name!r}, not a checkpoint") from None

    def save(self, processor: Checkpointed, offsets: dict[Partition, int]) -> Path:
        """Write a new checkpoint of ``processor`` covering ``offsets``; return its directory."""
        sequence = self._sequence + 1
        final = self.directory / f"ckpt-{sequence:010d}"
        tmp = self.directory / f".ckpt-{sequence:010d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        processor.save_state(tmp)
        doc = {f"{p.topic}:{p.partition}": o for p, o in sorted(offsets.items())}
        (tmp / "offsets.json").write_text(json.dumps({"sequence": sequence, "offsets": doc}))
        for child in tmp.iterdir():
            with child.open("rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        tmp.rename(final)
        current_tmp = self.directory / "CURRENT.tmp"
        current_tmp.write_text(final.name + "\n")
        with current_tmp.open("rb") as f:
            os.fsync(f.fileno())
        current_tmp.replace(self.directory / "CURRENT")
        _fsync_dir(self.directory)
        self._sequence = sequence
        for old in self.directory.glob("ckpt-*"):
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
        return final

    def load(self) -> Checkpoint | None:
        """The newest complete checkpoint, or None when there is none yet."""
        if self._sequence == 0:
            return None
        directory = self.directory / f"ckpt-{self._sequence:010d}"
        try:
            doc = json.loads((directory / "offsets.json").read_text())
            offsets = {}
            for key, offset in doc["offsets"].items():
                topic, _, part = key.rpartition(":")
                offsets[Partition(topic, int(part))] = int(offset)
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"checkpoint {directory} is unreadable: {exc}") from exc
        return Checkpoint(directory, offsets, self._sequence)
