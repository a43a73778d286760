"""Errors of the concept-drift path, rooted in :class:`driftd.errors.DriftdError`."""

from __future__ import annotations

from driftd.errors import DriftdError


class ConceptStateError(DriftdError):
    """A saved concept state (label join, detectors, windows) that cannot be restored.

    Raised for a file that is truncated, fails its checksum, is of another format or version, or
    holds arrays that do not fit together. The message names the file and what is wrong with it.
    """
