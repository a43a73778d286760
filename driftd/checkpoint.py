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

from driftd.errors import StateError
from driftd.sources.base import Partition

log = logging.getLogger(__name__)


class CheckpointError(StateError):
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
            # Checkpoints hold feature values: readable by driftd's user only.
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.chmod(0o700)
        except OSError as exc:
            raise CheckpointError(f"cannot create state directory {directory}: {exc}") from exc
        self._sequence = self._current_sequence()
        self._clean()

    def _clean(self) -> None:
        """Remove what a crash mid-save left: temporary directories and files, and
        checkpoint directories that ``CURRENT`` does not name (renamed, never made current)."""
        keep = f"ckpt-{self._sequence:010d}"
        for path in self.directory.iterdir():
            name = path.name
            leftover = (
                name.startswith(".ckpt-") and name.endswith(".tmp")
            ) or name == "CURRENT.tmp"
            orphan = name.startswith("ckpt-") and name != keep
            if leftover or orphan:
                log.info("removing %s left by an interrupted checkpoint", path)
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

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
        try:
            return self._save(processor, offsets, sequence, final, tmp)
        except OSError as exc:
            # A full or read-only disk: the previous checkpoint stays valid; free the space.
            shutil.rmtree(tmp, ignore_errors=True)
            raise CheckpointError(f"cannot write checkpoint {final.name}: {exc}") from exc

    def _save(
        self,
        processor: Checkpointed,
        offsets: dict[Partition, int],
        sequence: int,
        final: Path,
        tmp: Path,
    ) -> Path:
        shutil.rmtree(tmp, ignore_errors=True)
        # A directory of this name not named by CURRENT is an orphan of an interrupted save.
        shutil.rmtree(final, ignore_errors=True)
        tmp.mkdir(mode=0o700)
        processor.save_state(tmp)
        doc = {f"{p.topic}:{p.partition}": o for p, o in sorted(offsets.items())}
        (tmp / "offsets.json").write_text(json.dumps({"sequence": sequence, "offsets": doc}))
        for child in tmp.iterdir():
            # Owner only whatever the umask: the files hold feature values.
            child.chmod(0o600)
            with child.open("rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        tmp.rename(final)
        current_tmp = self.directory / "CURRENT.tmp"
        current_tmp.write_text(final.name + "\n")
        current_tmp.chmod(0o600)
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
