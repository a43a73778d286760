"""Memory arithmetic of the pending tables, kept free of numba so config validation stays light.

A slot costs :data:`SLOT_BYTES` whether it is used or not, tables have power-of-two capacities
and never run fuller than :data:`MAX_LOAD`, and a full table evicts :func:`eviction_slack`
entries at once so that eviction sweeps are amortised over many inserts.
"""

from __future__ import annotations

# key uint64 + value float32 + score float32 + event time float64 + arrival time float64
SLOT_BYTES = 8 + 4 + 4 + 8 + 8
# Linear probing stays short (about 2.5 probes per hit, 8.5 per miss) up to this load.
MAX_LOAD = 0.75


def eviction_slack(max_entries: int) -> int:
    """How far below ``max_entries`` a full table is trimmed, and the largest insert chunk."""
    return max(1, max_entries // 100)


def capacity_for(entries: int, minimum: int = 8) -> int:
    """The smallest power-of-two capacity (at least ``minimum``) that holds ``entries``."""
    capacity = 1 << max(3, (minimum - 1).bit_length())
    while entries > MAX_LOAD * capacity:
        capacity *= 2
    return capacity


def table_bytes(max_entries: int, minimum: int = 8) -> int:
    """Bytes of the largest table that :class:`~driftd.concept.table.PendingTable` will grow to."""
    return capacity_for(max_entries + eviction_slack(max_entries), minimum) * SLOT_BYTES


def max_entries_within(budget_bytes: int) -> int:
    """The most entries a table can hold without its arrays ever exceeding ``budget_bytes``.

    Returns 0 when not even the smallest table fits.
    """
    if budget_bytes < 8 * SLOT_BYTES:
        return 0
    capacity = 1 << ((budget_bytes // SLOT_BYTES).bit_length() - 1)
    fill = int(MAX_LOAD * capacity)
    return max(0, fill - eviction_slack(fill))
