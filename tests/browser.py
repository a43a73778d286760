"""Real headless Chromium for the report and live-page tests: what a person would see.

``scripts/tools.sh`` installs Debian's ``chromium`` when the test command runs;
``DRIFTD_TEST_CHROMIUM`` points at another build. Pages are loaded with every host name
unresolvable except 127.0.0.1, so a page that needed the network would show it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from tests.tools import find


def chromium() -> str | None:
    """The Chromium binary, or None."""
    return find("DRIFTD_TEST_CHROMIUM", "chromium", "chromium-browser", "google-chrome")


class Browser:
    """One headless Chromium run per call, with its own throwaway profile."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def _run(self, url: str, *extra: str, timeout: float = 90.0) -> bytes:
        with tempfile.TemporaryDirectory(prefix="driftd-chromium-") as profile:
            argv = [
                self.binary,
                "--headless",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                # No network but the daemon on 127.0.0.1: assets must be inline or local.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                # Let the page's scripts run (plotly draws after load) before the capture.
                "--virtual-time-budget=20000",
                *extra,
                url,
            ]
            if os.geteuid() == 0:
                argv.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
            done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
        return done.stdout

    def dom(self, url: str) -> str:
        """The document after its scripts ran."""
        return self._run(url, "--dump-dom").decode("utf-8", "replace")

    def screenshot(self, url: str, path: Path, width: int = 1400, height: int = 2600) -> Path:
        """A PNG of the page as a laptop browser would show it."""
        self._run(url, f"--screenshot={path}", f"--window-size={width},{height}")
        return path


@dataclass
class Chart:
    """One ``div.driftd-chart`` as rendered: how many data points the page says it has, how
    many SVG surfaces plotly drew and how many marks (lines, markers, bars) with a shape."""

    points: int
    surfaces: int = 0
    marks: int = 0


class _Charts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: list[Chart] = []
        self._depth = 0  # div nesting inside the current chart (0: outside)
        self._in_point = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "div":
            if self._depth:
                self._depth += 1
            elif "driftd-chart" in classes:
                self.charts.append(Chart(int(a.get("data-points") or 0)))
                self._depth = 1
            return
        if not self._depth:
            return
        chart = self.charts[-1]
        if tag == "svg" and "main-svg" in classes:
            chart.surfaces += 1
        if tag == "g":
            # A bar is a path without a class inside g.point; a marker is a path.point.
            self._in_point = "point" in classes
            return
        d = a.get("d") or ""
        drawn = {"point", "js-line"} & set(classes) or self._in_point
        if tag == "path" and drawn and len(d) > 3:
            chart.marks += 1
        self._in_point = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._depth:
            self._depth -= 1


def charts(dom: str) -> list[Chart]:
    """Every report chart in a rendered document."""
    parser = _Charts()
    parser.feed(dom)
    return parser.charts


def looks_like_a_page(png: Path) -> bool:
    """A PNG of real size that is not one flat colour (a blank capture compresses to little)."""
    data = png.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 60_000
