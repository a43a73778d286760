"""sd_notify over a real unix datagram socket."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from driftd.systemd import Notifier


def _socket(tmp_path: Path) -> tuple[socket.socket, str]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    return sock, path


def test_ready_status_stopping_reach_the_socket(tmp_path: Path) -> None:
    sock, path = _socket(tmp_path)
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("consuming 2 topics")
    assert sock.recv(4096) == b"READY=1\nSTATUS=consuming 2 topics"
    assert notifier.status("lag 0")
    assert sock.recv(4096) == b"STATUS=lag 0"
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    notifier.close()
    sock.close()


def test_abstract_namespace_socket() -> None:
    name = f"driftd-test-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    sock.close()


def test_watchdog_pings_only_while_alive(tmp_path: Path) -> None:
    sock, path = _socket(tmp_path)
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})  # 0.1 s
    assert notifier.watchdog_interval == 0.05
    alive = [True]
    stop = notifier.start_watchdog(lambda: alive[0])
    assert stop is not None
    assert sock.recv(4096) == b"WATCHDOG=1"
    alive[0] = False
    time.sleep(0.12)  # let an in-flight ping land before draining
    sock.setblocking(False)
    while True:
        try:
            sock.recv(4096)
        except BlockingIOError:
            break
    time.sleep(0.2)
    try:
        extra = sock.recv(4096)
    except BlockingIOError:
        extra = b""
    assert extra == b""  # a stalled loop gets no pings, so systemd restarts it
    stop.set()
    sock.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert notifier.start_watchdog(lambda: True) is None


def test_watchdog_for_another_pid_is_ignored(tmp_path: Path) -> None:
    notifier = Notifier(
        {"NOTIFY_SOCKET": str(tmp_path / "x"), "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    )
    assert notifier.watchdog_interval is None
