"""Real Prometheus-ecosystem binaries for the tests: find them, start them, stop them.

``scripts/tools.sh`` installs them (Debian packages) when the test command runs; a user may
point at their own with ``DRIFTD_TEST_ALERTMANAGER``. Without them the tests that need them
skip, which ``CI=true`` turns into a failure (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Self

from tests.kafka.broker import free_port

ALERTMANAGER_CONFIG = """
route: {receiver: "null", group_wait: 1h}
receivers: [{name: "null"}]
"""


def find(env: str, *names: str) -> str | None:
    """The binary named by ``env`` or the first of ``names`` on PATH."""
    given = os.environ.get(env)
    if given:
        return given
    return next((path for name in names if (path := shutil.which(name))), None)


class _LocalServer:
    """A server binary on 127.0.0.1 with its config and data in a scratch dir; subclasses
    give the config file and the command-line flags."""

    name = "server"

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix=f"driftd-{self.name}-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def _config_text(self) -> str:
        raise NotImplementedError

    def _flags(self, config: Path, data: Path) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Self:
        """Start and wait until ``/-/ready`` answers; returns ``self``."""
        config = self._dir / f"{self.name}.yml"
        config.write_text(self._config_text())
        log = (self._dir / f"{self.name}.log").open("wb")
        self._proc = subprocess.Popen(
            [self.binary, *self._flags(config, self._dir / "data")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s: {self.log()[-2000:]}")

    def log(self) -> str:
        """What the server wrote so far."""
        path = self._dir / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop it and remove its data."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)


class Alertmanager(_LocalServer):
    """One Alertmanager with clustering off."""

    name = "alertmanager"

    def __init__(self, binary: str, config: str = ALERTMANAGER_CONFIG) -> None:
        super().__init__(binary)
        self.config = config

    def _config_text(self) -> str:
        return self.config

    def _flags(self, config: Path, data: Path) -> list[str]:
        return [
            f"--config.file={config}",
            f"--storage.path={data}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
        ]

    def alerts(self, **query: str) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (active, silenced and inhibited alerts by default)."""
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{qs}", timeout=5) as resp:
            return json.loads(resp.read())


class Prometheus(_LocalServer):
    """One Prometheus scraping ``targets`` every second with ``rule_files``."""

    name = "prometheus"

    def __init__(self, binary: str, targets: list[str], rule_files: list[Path]) -> None:
        super().__init__(binary)
        self._targets = targets
        self._rules = rule_files

    def _config_text(self) -> str:
        return json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(r) for r in self._rules],
                "scrape_configs": [
                    {"job_name": "driftd", "static_configs": [{"targets": self._targets}]}
                ],
            }
        )

    def _flags(self, config: Path, data: Path) -> list[str]:
        return [
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]

    def api(self, path: str) -> Any:
        """The ``data`` of a GET on its HTTP API (``/api/v1/...``)."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as resp:
            return json.loads(resp.read())["data"]
