"""Monitor state follows its partition between replicas (see ``driftd.handover``)."""

from __future__ import annotations

import logging

from driftd.handover import Handover
from driftd.processor import Processor
from driftd.sources.base import Batch, Partition, Source

log = logging.getLogger(__name__)


def hand_over(
    processor: Processor,
    handover: Handover,
    source: Source,
    batch: Batch,
    *,
    assigned: set[Partition],
    forget: set[Partition],
    adopt: set[Partition],
    resume: dict[Partition, int],
) -> Batch:
    """Apply a rebalance to the processor; returns ``batch`` without records already counted.

    Partitions this replica lost: forget the monitors they alone fed. Partitions it gained
    without holding their state: restore the newest handed-over snapshot, seek to the offset
    it covers and drop records of this batch it already counts. ``resume`` is updated with the
    offsets the adopted state covers.
    """
    for partition in sorted(forget - assigned):
        names = processor.forget_partition(partition)
        if names:
            log.info("%s moved to another replica: forgot monitors %s", partition, names)
    fresh = {p for p in adopt & assigned if not processor.owned_by(p)}
    if not fresh:
        return batch
    snapshots = handover.fetch(fresh)
    kept = dict(batch)
    for partition, snap in sorted(snapshots.items()):
        records = kept.get(partition)
        if records and records[0].offset > snap.offset:
            log.warning(
                "%s: handed-over state ends at offset %d but records resume at %d; "
                "its monitors start afresh",
                partition,
                snap.offset,
                records[0].offset,
            )
            continue
        names = processor.adopt_partition(snap)
        if records:
            kept[partition] = [r for r in records if r.offset >= snap.offset]
            if not kept[partition]:
                del kept[partition]
        else:
            source.seek(partition, snap.offset)
        resume[partition] = snap.offset
        log.info("%s: took over monitors %s at offset %d", partition, names, snap.offset)
    return kept
