"""Window epochs: the identity of one run of window indices (see ``Verdict.window_epoch``)."""

from __future__ import annotations

import secrets


def new_epoch() -> str:
    """A fresh epoch name; 48 random bits, so two runs of one monitor never share one."""
    return secrets.token_hex(6)
