"""Progress lines: counts, percent, rate and ETA, and row counts of the input files."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from driftd.progress import Progress, count_rows


def test_the_line_shows_rate_and_eta_and_is_rate_limited() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(1000, "rows", estimated=True, out=out, clock=lambda: now[0])
    now[0] = 2.0
    assert progress.line(250, now[0]) == "250 / ~1,000 rows  25%  125 rows/s  ETA 0:06"
    progress(250)
    progress(300)  # within 0.5 s of the last line: not shown
    now[0] = 2.6
    progress(400)
    progress.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert "400 / ~1,000 rows  40%" in text
    # Past an estimate, the total follows what was read; without a total, only the rate.
    assert progress.line(1500, 3.0).startswith("1,500 / ~1,500 rows  100%")
    assert Progress(None, "rows", clock=lambda: 0.0).line(10, 5.0) == "10 rows  2 rows/s"
    assert Progress(100, "rows", clock=lambda: 0.0).line(50, 7300.0).endswith("ETA 2:01:40")


def test_rows_are_counted_exactly_for_parquet_and_small_files_and_estimated_otherwise(
    tmp_path: Path,
) -> None:
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": list(range(1234))}), parquet)
    assert count_rows(parquet) == (1234, False)
    small = tmp_path / "s.jsonl"
    small.write_text("".join(f'{{"a": {i}}}\n' for i in range(100)))
    assert count_rows(small) == (100, False)
    big = tmp_path / "b.jsonl"
    line = b'{"a": 123456, "b": "xxxxxxxxxxxxxxxxxxxxxxxxxx"}\n'
    big.write_bytes(line * 200_000)  # about 10 MiB
    rows, estimated = count_rows(big)
    assert estimated and rows is not None and abs(rows - 200_000) < 2000
    assert count_rows(tmp_path / "missing.csv") == (None, False)


def test_replay_reports_progress_up_to_every_row(tmp_path: Path) -> None:
    import msgspec

    from driftd.config import parse_config
    from driftd.replay import replay
    from driftd.synthetic import events

    profile = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
    lines = tmp_path / "in.jsonl"
    lines.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in events(2500, seed=3)))
    config = parse_config(
        f"""
kafka: {{bootstrap_servers: ["k:1"]}}
streams: [{{name: p, topic: t, fields: {{id: request_id, features: {{amount: features.amount}}}}}}]
monitors: [{{name: m, streams: [p], reference: {profile}, features: [amount]}}]
""",
        env={},
    )
    seen: list[int] = []
    replay(config, lines, batch_size=1000, progress=seen.append, out=io.StringIO())
    assert seen == [1000, 2000, 2500]
