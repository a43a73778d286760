"""A real schema registry for the tests: Apicurio Registry 2.4.2 (in-memory), which serves the
Confluent Schema Registry API under ``/apis/ccompat/v7``.

Apicurio publishes its server as a plain Quarkus jar that still needs Quarkus's build step, and
two of its artifacts are not on Maven Central; ``tests/registry/pom.xml`` is a small wrapper
project that depends on it, swaps those two (see the pom's comment) and runs the Quarkus build.
The build (about 30 s and 210 MB from an empty Maven cache, 20 s warm) lands in
``$DRIFTD_REGISTRY_CACHE`` (default ``~/.cache/driftd/registry``), keyed by the project's
files, so a machine builds it once. Newer Apicurio releases were tried and do not resolve from
Central here (3.x: missing modules and Java 21; 2.5/2.6: missing modules).

Usable on its own: ``python -m tests.registry.server`` starts one and prints its URL.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent
_RUNNING: dict[subprocess.Popen[bytes], int] = {}


@atexit.register
def _stop_leftovers() -> None:
    for proc, owner in list(_RUNNING.items()):
        if owner == os.getpid() and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


class RegistryError(RuntimeError):
    """The registry could not be built or started."""


def _sources() -> list[Path]:
    return sorted(p for p in [PROJECT / "pom.xml", *(PROJECT / "src").rglob("*")] if p.is_file())


def cache_dir() -> Path:
    """Where the built registry is kept between runs."""
    root = os.environ.get("DRIFTD_REGISTRY_CACHE") or Path.home() / ".cache" / "driftd" / "registry"
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(str(path.relative_to(PROJECT)).encode() + b"\0" + path.read_bytes())
    return Path(root) / digest.hexdigest()[:12]


def build() -> Path:
    """The runnable jar (with its ``lib/`` beside it), building it with Maven if not cached."""
    home = cache_dir()
    jar = home / "target" / "apicurio-test-registry-0-runner.jar"
    if (home / ".complete").exists() and jar.exists():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        raise RegistryError("Maven (mvn) and java are needed to build the test schema registry")
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=home.parent))
    shutil.copy(PROJECT / "pom.xml", work / "pom.xml")
    shutil.copytree(PROJECT / "src", work / "src")
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(work / "pom.xml"), "package", "-DskipTests"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        tail = (result.stdout + result.stderr)[-4000:]
        raise RegistryError(f"mvn could not build the test schema registry:\n{tail}")
    (work / ".complete").write_text("ok\n")
    if home.exists():
        shutil.rmtree(home)
    work.rename(home)
    return jar


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SchemaRegistry:
    """One Apicurio process on a free port of 127.0.0.1; ``stop()`` and ``start()`` again
    simulate an outage (its in-memory schemas are lost with it unless re-registered)."""

    def __init__(self) -> None:
        self.jar = build()
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="driftd-registry-", suffix=".log")[1])

    @property
    def url(self) -> str:
        """The Confluent-compatible API's base URL."""
        return f"http://127.0.0.1:{self.port}/apis/ccompat/v7"

    def start(self, timeout: float = 90.0) -> None:
        """Start the process and wait until it answers ready."""
        java = shutil.which("java") or "java"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    java,
                    "-Xmx512m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    f"-Dquarkus.http.port={self.port}",
                    "-Dquarkus.http.host=127.0.0.1",
                    "-jar",
                    str(self.jar),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.jar.parent,
                start_new_session=True,
            )
        _RUNNING[self.proc] = os.getpid()
        deadline = time.monotonic() + timeout
        ready = f"http://127.0.0.1:{self.port}/health/ready"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RegistryError(f"the registry exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(ready, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RegistryError(f"the registry was not ready within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the process (SIGKILL: an outage, not a goodbye)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)
        if self.proc is not None:
            _RUNNING.pop(self.proc, None)
        self.proc = None


class Gate:
    """A TCP forwarder in front of a server, to cut it off and bring it back: an outage of
    the network path, where the server keeps its state (a restarted in-memory registry would
    come back empty, and a client asking before it is filled again learns "unknown id")."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        """Accept and forward connections."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and cut the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def main() -> None:
    registry = SchemaRegistry()
    registry.start()
    print(registry.url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        registry.stop()


if __name__ == "__main__":
    main()
