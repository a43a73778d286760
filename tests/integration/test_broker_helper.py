"""``python -m tests.kafka.broker`` on its own, as users run it.

``--help`` prints usage without starting anything; the ready line reaches a pipe at once (not
held in a buffer until exit); SIGTERM or SIGINT to the Python process stops the Java broker it
started and deletes its data, instead of leaving the broker running.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.kafka.broker import cache_dir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
READY = re.compile(r"Kafka broker ready at 127\.0\.0\.1:(\d+) \(log: (.+)\)")
COMMAND = [sys.executable, "-m", "tests.kafka.broker"]


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process (Linux /proc)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # exited meanwhile
        # The command name in parentheses may hold spaces: the fields follow the last ")".
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            table[int(entry.name)] = (int(ppid), cmdline)
    return table


def _java_children(pid: int) -> list[int]:
    return [
        child
        for child, (ppid, cmdline) in _process_table().items()
        if ppid == pid and "java" in cmdline
    ]


def _alive(pid: int) -> bool:
    return pid in _process_table()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _require_broker_prerequisites() -> None:
    missing = []
    if shutil.which("java") is None:
        missing.append("java")
    if shutil.which("mvn") is None and not (cache_dir() / "lib" / ".complete").exists():
        missing.append("mvn (or cached Kafka jars)")
    if missing:
        if CI:
            pytest.fail(f"CI=true and the Kafka broker cannot be started: no {', '.join(missing)}")
        pytest.skip(f"cannot start a Kafka broker: no {', '.join(missing)}")


def test_help_prints_usage_and_starts_nothing(tmp_path: Path) -> None:
    # java and mvn stand-ins that leave a mark: starting a broker would have to call one.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "called"
    for tool in ("java", "mvn"):
        shim = bin_dir / tool
        shim.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{marker}"\nexit 1\n')
        shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DRIFTD_KAFKA_CACHE": str(tmp_path / "cache"),  # nothing cached: jars must be fetched
    }
    began = time.monotonic()
    result = subprocess.run(
        [*COMMAND, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    elapsed = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
    assert "tests.kafka.broker" in result.stdout
    assert elapsed < 20
    assert not marker.exists(), f"--help ran {marker.read_text()}"
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_java_broker(signum: signal.Signals) -> None:
    _require_broker_prerequisites()
    # Without PYTHONUNBUFFERED (set in some shells and CI images), as most users run it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen(
        COMMAND,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,  # not a tty: the ready line must be flushed, not buffered
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    output: list[str] = []
    java: list[int] = []
    workdir: Path | None = None
    try:
        deadline = time.monotonic() + 120
        ready = None
        while ready is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no ready line in 120 s:\n{''.join(output)}"
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"exited with {proc.wait()}:\n{''.join(output)}"
            output.append(line)
            ready = READY.search(line)
        port = int(ready[1])
        workdir = Path(ready[2]).parent
        java = _java_children(proc.pid)
        assert len(java) == 1, f"one Java broker under {proc.pid}, found {java}"
        assert "kafka.Kafka" in _process_table()[java[0]][1]
        assert _accepts(port)

        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 0, "".join(output)
        deadline = time.monotonic() + 5  # the helper waited for it: gone now, not later
        while _alive(java[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(java[0]), f"the Java broker {java[0]} outlived the helper"
        assert not _accepts(port)
        assert not workdir.exists(), "the broker's data directory was not deleted"
    finally:
        if proc.poll() is None:
            java += _java_children(proc.pid)  # in a session of its own: killing proc spares it
            proc.kill()
            proc.wait(timeout=10)
        for pid in set(java):
            if pid in (table := _process_table()):
                props = Path(table[pid][1].split()[-1])  # kafka.Kafka <workdir>/server.properties
                os.kill(pid, signal.SIGKILL)
                if props.name == "server.properties" and workdir is None:
                    workdir = props.parent
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def test_a_broker_left_running_is_stopped_at_exit() -> None:
    """A process that ends without cleanup() (a failed session, an exception) stops its broker."""
    _require_broker_prerequisites()
    script = (
        "from tests.kafka.broker import KafkaBroker\n"
        "broker = KafkaBroker().start()\n"
        "print(broker.proc.pid, broker.port, broker.workdir, flush=True)\n"
        "raise RuntimeError('exits without stopping the broker')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "exits without stopping the broker" in result.stderr
    pid_text, port_text, workdir = result.stdout.split()
    pid, port = int(pid_text), int(port_text)
    try:
        assert not _alive(pid), f"the Java broker {pid} outlived its Python process"
        assert not _accepts(port)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)  # the hook stops the process only
