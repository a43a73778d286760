"""The one failure policy: what happens to records whose processing raised.

The daemon loop has exactly one place that catches an exception from processing a partition's
events. It asks the policy named by ``kafka.on_processing_error`` whether to suppress it:

- ``dead_letter`` (default): yes. The loop retries the batch's events one by one; each event
  that raises again goes to the dead-letter topic with reason ``processing_error`` and the
  exception in its headers (or is only counted without a dead-letter topic), the others are
  processed, the offsets move past them, and the loop goes on. No record can hold a partition.
- ``stop``: no. The exception ends the daemon (exit 1) without committing the batch: for users
  who prefer a crash loop that somebody must look at to a record set aside.

Events a monitor is known not to take (see ``driftd.monitoring.admission``) never get here: they
are refused before processing. Whatever reaches the policy is unexpected; the first event-by-
event pass may already have changed state for events before the failing one, so those can be
counted twice in open windows, which the log says.
"""

from __future__ import annotations

from collections.abc import Callable

ErrorPolicy = Callable[[BaseException], bool]


def dead_letter(exc: BaseException) -> bool:
    """Suppress: the records that raise are dead-lettered and the loop goes on."""
    return True


def stop(exc: BaseException) -> bool:
    """Do not suppress: the daemon stops on the exception."""
    return False


POLICIES: dict[str, ErrorPolicy] = {"dead_letter": dead_letter, "stop": stop}
