"""ClockSkew: a live stream whose event times are hours off the wall clock is reported."""

from __future__ import annotations

import logging

import pytest

from driftd.clockskew import ClockSkew

NOW = 1_800_000_000.0


def test_only_live_streams_far_off_are_reported_once_an_hour(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [NOW]
    skew = ClockSkew(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "driftd.clockskew"):
        assert not skew.observe("preds", NOW - 5 * 86400, live=False)  # a backlog: fine
        assert not skew.observe("preds", NOW - 120, live=True)  # two minutes: fine
        assert skew.observe("preds", NOW - 5 * 3600, live=True)
        assert not skew.observe("preds", NOW - 5 * 3600, live=True)  # said already
        assert skew.observe("labels", NOW + 3 * 86400, live=True)  # another stream, ahead
        now[0] += 3600
        assert skew.observe("preds", now[0] - 5 * 3600, live=True)  # an hour later: again
        assert not skew.observe("preds", now[0] - 10, live=True)  # fixed
        assert skew.observe("preds", now[0] - 2 * 3600, live=True)  # off again: said at once
    lines = [r.getMessage() for r in caplog.records]
    assert "stream preds: reading at the head" in lines[0]
    assert "5.0 h behind the wall clock" in lines[0]
    assert "3.0 days ahead of the wall clock" in lines[1]
    assert len(lines) == 4
