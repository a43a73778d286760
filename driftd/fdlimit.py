"""The open-file limit: raised to the hard limit at start-up, as Go programs do.

The soft limit is often 1,024 (a default from the days of select()); driftd never uses
select() on its own descriptors, and each HTTP client, Kafka connection, checkpoint and outbox
file takes one. Running out fails the next checkpoint write, so the HTTP server's connection cap
is fitted under whatever limit remains.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (where allowed); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit is capped: some libraries loop over every possible descriptor.
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.debug("cannot raise the open-file limit to %d: %s", target, exc)
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20
