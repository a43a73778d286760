"""Start and stop a real single-node Apache Kafka broker (KRaft, combined mode) on 127.0.0.1.

The jars come from Maven Central through ``tests/kafka/pom.xml`` and are cached under
``$DRIFTD_KAFKA_CACHE`` (default ``~/.cache/driftd/kafka``), so only the first run on a machine
downloads them. Each broker gets a fresh data directory and free ports.

Usable on its own: ``python -m tests.kafka.broker`` starts a broker, prints its address and runs
until Ctrl-C or SIGTERM, which stop the broker and delete its data (``--help`` for usage).
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import FrameType

POM = Path(__file__).with_name("pom.xml")
STARTED = re.compile(r"\[KafkaRaftServer nodeId=1\] Kafka Server started")

# Broker processes not stopped yet. The broker runs in its own session (so a Ctrl-C meant for
# the tests does not reach it), hence nothing stops it when this process ends: the atexit hook
# below does, whatever normal path the interpreter exits by (a failed session, an uncaught
# exception, sys.exit). A SIGKILL of this process still leaves it running. By the pid that
# started each one: a forked child exiting leaves its parent's brokers alone.
_RUNNING: dict[subprocess.Popen[bytes], int] = {}


@atexit.register
def _stop_leftover_brokers() -> None:
    for proc, owner in list(_RUNNING.items()):
        if owner != os.getpid():
            continue
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        _RUNNING.pop(proc, None)


class BrokerError(RuntimeError):
    """The broker could not be fetched or started."""


def cache_dir() -> Path:
    """Where the broker jars are kept between runs."""
    root = os.environ.get("DRIFTD_KAFKA_CACHE") or Path.home() / ".cache" / "driftd" / "kafka"
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    return Path(root) / digest


def fetch_jars() -> Path:
    """The directory of broker jars, downloading them with Maven if not cached yet."""
    lib = cache_dir() / "lib"
    if (lib / ".complete").exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven (mvn) is not on PATH: it is needed to fetch the Kafka jars")
    if shutil.which("java") is None:
        raise BrokerError("java is not on PATH: the Kafka broker needs Java 17+")
    lib.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if result.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BrokerError(f"mvn failed to fetch the Kafka jars:\n{result.stdout}\n{result.stderr}")
    (tmp / ".complete").write_text("ok\n")
    if lib.exists():
        shutil.rmtree(lib)
    tmp.rename(lib)
    return lib


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cluster_id() -> str:
    """A Kafka cluster id: URL-safe base64 of a UUID, not starting with '-'."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            return value


class KafkaBroker:
    """One KRaft broker+controller process with its own data directory and ports."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.lib = fetch_jars()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="driftd-kafka-"))
        self.port = free_port()
        self.controller_port = free_port()
        while self.controller_port == self.port:
            # free_port() may hand out the port it just gave (both were free): the broker then
            # fails to format its storage (seen once in CI).
            self.controller_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._formatted = False

    @property
    def bootstrap(self) -> str:
        """The bootstrap address for clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """The broker's log file."""
        return self.workdir / "broker.log"

    def _write_properties(self) -> Path:
        props = self.workdir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    "inter.broker.listener.name=PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.workdir / 'data'}",
                    "num.partitions=1",
                    "default.replication.factor=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "group.min.session.timeout.ms=1000",
                    "auto.create.topics.enable=false",
                    "num.network.threads=2",
                    "num.io.threads=2",
                    "num.recovery.threads.per.data.dir=1",
                    "",
                ]
            )
        )
        return props

    def _java(self, *args: str, heap: str = "256m") -> list[str]:
        return [
            "java",
            f"-Xmx{heap}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-cp",
            f"{self.lib}/*",
            *args,
        ]

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        """Format storage (first start only), start the broker and wait until it serves."""
        props = self._write_properties()
        if not self._formatted:
            result = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    cluster_id(),
                    "-c",
                    str(props),
                ),
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            if result.returncode != 0:
                raise BrokerError(
                    f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}"
                )
            self._formatted = True
        # On a restart the log already holds an old "started" line: only read what follows.
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self._java("kafka.Kafka", str(props), heap="512m"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _RUNNING[self.proc] = os.getpid()
        log.close()
        self._wait_started(timeout, offset)
        return self

    def _wait_started(self, timeout: float, offset: int) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(
                    f"the Kafka broker exited with {self.proc.returncode}; "
                    f"log tail:\n{self._tail()}"
                )
            with self.log_path.open("rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
            if STARTED.search(text) and self._accepts():
                return
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"the Kafka broker did not start in {timeout:.0f}s:\n{self._tail()}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def _tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM), then SIGKILL if it takes longer than ``timeout``."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        _RUNNING.pop(self.proc, None)

    def restart(self) -> None:
        """Stop and start again on the same ports and data (for outage tests)."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the broker and delete its data directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="python -m tests.kafka.broker",
        description=(
            "Start a single-node Apache Kafka broker (KRaft) on 127.0.0.1 with a fresh data "
            "directory and free ports, print its bootstrap address, and run it until Ctrl-C "
            "or SIGTERM, which stop the broker and delete its data."
        ),
        epilog=(
            "Needs Java 17+ and, on the first run, Maven (mvn) to fetch the jars, which are "
            "cached under $DRIFTD_KAFKA_CACHE (default ~/.cache/driftd/kafka)."
        ),
    )


def main(argv: list[str] | None = None) -> int:
    """Run a broker in the foreground until Ctrl-C or SIGTERM; the process exit code."""
    _parser().parse_args(argv)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Unwind to the ``finally`` below, which stops the broker; a second signal while it
        # does is ignored, so the shutdown is not cut short (stop() is time-boxed).
        nonlocal stopping
        if not stopping:
            stopping = True
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    broker: KafkaBroker | None = None
    try:
        print("starting a Kafka broker...", flush=True)
        broker = KafkaBroker()
        broker.start()
        print(
            f"Kafka broker ready at {broker.bootstrap} (log: {broker.log_path}); Ctrl-C stops it",
            flush=True,
        )
        assert broker.proc is not None
        code = broker.proc.wait()
        print(
            f"the Kafka broker exited on its own with {code}; log tail:\n{broker._tail()}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stopping = True
        if broker is not None:
            with contextlib.suppress(OSError):  # stdout may be a pipe closed by now
                print("stopping the Kafka broker...", flush=True)
            broker.cleanup()
            with contextlib.suppress(OSError):
                print("Kafka broker stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
