"""systemd's notify protocol (``Type=notify``): READY, STATUS, WATCHDOG and STOPPING.

Implemented in-tree: one datagram per message to the unix socket named by ``NOTIFY_SOCKET``
(a leading ``@`` means the abstract namespace). Without ``NOTIFY_SOCKET`` every call is a no-op,
so the daemon behaves the same outside systemd.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages; ``watchdog_interval`` is half of ``WATCHDOG_USEC`` when set."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._sock: socket.socket | None = None
        self.watchdog_interval: float | None = None
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if usec and (pid is None or pid == str(os.getpid())):
            self.watchdog_interval = int(usec) / 1e6 / 2.0
        if self._address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a notify socket."""
        return self._sock is not None

    def notify(self, **fields: str) -> bool:
        """Send ``KEY=value`` lines, e.g. ``notify(READY="1", STATUS="consuming")``."""
        if self._sock is None:
            return False
        message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            self._sock.sendto(message, self._address)
        except OSError as exc:
            # systemd gone or socket unwritable: the daemon keeps running without it.
            log.warning("sd_notify to %r failed: %s", self._address, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """Tell systemd start-up is complete."""
        return self.notify(READY="1", STATUS=status) if status else self.notify(READY="1")

    def status(self, text: str) -> bool:
        """Update the status line ``systemctl status`` shows."""
        return self.notify(STATUS=text)

    def stopping(self) -> bool:
        """Tell systemd a clean shutdown has begun."""
        return self.notify(STOPPING="1")

    def watchdog(self) -> bool:
        """Ping the watchdog (only meaningful when ``WatchdogSec=`` is set)."""
        return self.notify(WATCHDOG="1")

    def start_watchdog(self, alive: Callable[[], bool]) -> threading.Event | None:
        """Ping the watchdog every interval while ``alive()``; returns an Event that stops it.

        A stalled main loop stops the pings, so systemd restarts the service.
        """
        interval = self.watchdog_interval
        if self._sock is None or interval is None:
            return None
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                if alive():
                    self.watchdog()

        threading.Thread(target=loop, name="driftd-watchdog", daemon=True).start()
        return stop

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
