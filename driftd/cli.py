"""The ``driftd`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from driftd import __version__
from driftd.errors import ConfigError, DriftdError, ProfileError

EXIT_CONFIG = 2

BUILD_EPILOG = """\
column types:
  Numbers are numeric, text and booleans categorical, unless --numeric, --categorical or
  `types:` in the --config file say otherwise. A text column whose non-missing values are at
  least 95% numbers, but not all (9,999 numbers and one "12,5"), is not guessed: the build
  stops with exit code 2, naming the column, how many values are not numbers and the first
  of them (rows count from 1, not counting a CSV header), until you fix the data or declare
  the column with --numeric (those values count as missing) or --categorical. In CSV, empty
  cells and missing markers (NA, N/A, n/a, null, NaN, ...) are missing values, not bad ones.

Exit code 2 when the input or the options cannot make a profile; nothing is written then.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftd", description="Streaming drift detection and alerting for ML models."
    )
    parser.add_argument("--version", action="version", version=f"driftd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("-c", "--config", required=True, help="config file (YAML)")

    check = sub.add_parser("check-config", help="validate a config file; exit 2 on errors")
    check.add_argument("-c", "--config", required=True, help="config file (YAML)")

    status = sub.add_parser("status", help="show a running daemon's monitors and alerts")
    status.add_argument("-c", "--config", help="config file (its http section gives the URL)")
    status.add_argument("--url", help="base URL of the daemon (default http://127.0.0.1:9108)")
    status.add_argument("--json", action="store_true", help="print the raw /status JSON")
    status.add_argument("--cacert", help="CA file to verify an https daemon's certificate")
    status.add_argument("-u", "--user", help="USER:PASSWORD when http.auth.protect_reads is set")
    status.add_argument("--token-file", help="bearer token file, instead of --user")

    demo = sub.add_parser("demo", help="run the whole pipeline on a synthetic stream (no Kafka)")
    demo.add_argument("--port", type=int, default=9108, help="port for /metrics (0: any)")
    demo.add_argument("--rate", type=float, default=40_000.0, help="events per second")
    demo.add_argument("--report", help="write the HTML report of the demo's stream here")

    replay = sub.add_parser("replay", help="run a config's monitors over a JSONL/Parquet file")
    replay.add_argument("-c", "--config", required=True, help="config file (YAML)")
    replay.add_argument("--input", required=True, help="events (.jsonl or .parquet)")
    replay.add_argument("--stream", help="stream the events belong to (default: the first)")
    replay.add_argument("--output", help="write every verdict as JSON lines here")
    replay.add_argument("--batch-size", type=int, default=5000)
    replay.add_argument("--quiet", action="store_true", help="no progress line on a terminal")
    replay.add_argument(
        "--notifications",
        help="run the alerting section in event time and write what it would send here (JSONL)",
    )
    replay.add_argument(
        "--report", help="write an HTML report of the run here (charts, alerts; self-contained)"
    )
    replay.add_argument(
        "--deliver",
        action="store_true",
        help="run the alerting section and deliver to its receivers (uses its outbox_dir)",
    )

    report = sub.add_parser("report", help="draw verdicts (JSONL) as a self-contained HTML page")
    report.add_argument("verdicts", help="verdict JSON lines (replay --output, the events topic)")
    report.add_argument("-o", "--output", default="report.html", help="HTML file to write")
    report.add_argument("-c", "--config", help="config whose profiles give the reference bins")
    report.add_argument("--notifications", help="would-send notifications (replay's JSONL)")

    ref = sub.add_parser("reference", help="build or show reference profiles")
    ref_sub = ref.add_subparsers(dest="reference_command", required=True, metavar="ACTION")
    build = ref_sub.add_parser(
        "build",
        help="build a profile from CSV, Parquet, JSONL or Avro",
        description="Build a reference profile from training data (CSV, Parquet, JSONL, Avro).",
        epilog=BUILD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--input", required=True, help="training data (.csv .parquet .jsonl .avro)")
    build.add_argument("--out", required=True, help="profile file to write")
    build.add_argument("--config", help="YAML with build options (types, exclude, label, ...)")
    build.add_argument("--label", help="label column (enables reference performance)")
    build.add_argument("--prediction", help="prediction column")
    build.add_argument("--id", help="id column (excluded from the features)")
    build.add_argument("--exclude", action="append", default=[], help="column to skip")
    build.add_argument(
        "--categorical",
        action="append",
        default=[],
        metavar="COLUMN",
        help="type COLUMN as categorical: every value is a category (repeatable)",
    )
    build.add_argument(
        "--numeric",
        action="append",
        default=[],
        metavar="COLUMN",
        help="type COLUMN as numeric: values that are not numbers count as missing, and the "
        "build says how many (repeatable)",
    )
    build.add_argument("--bins", type=int, help="quantile bins per numeric feature (10)")
    build.add_argument("--ks-sample-size", type=int, help="sorted KS sample size (20000)")
    build.add_argument("--max-categories", type=int, help="categories kept per feature (50)")
    build.add_argument(
        "--joint-sample-size",
        type=int,
        help="complete rows kept for multivariate statistics (10000; 0: none)",
    )
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.add_argument(
        "--stream",
        help="read --input as logged records of this stream of --driftd-config (its protocol "
        "and field paths: KServe / Open Inference Protocol payloads give a row per instance)",
    )
    build.add_argument("--driftd-config", help="the driftd config that defines --stream")
    show = ref_sub.add_parser("show", help="print a readable summary of a profile")
    show.add_argument("profile")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-config":
            return _check_config(args.config)
        if args.command == "run":
            return _run(args.config)
        if args.command == "reference":
            return _reference(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "report":
            return _report(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "status":
            return _status(args)
    except ConfigError as exc:
        print(f"driftd: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ProfileError as exc:
        # A missing or unreadable profile is a config problem: fix the file, do not retry.
        print(f"driftd: profile error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        sys.stderr.close()
        return 0
    except DriftdError as exc:
        print(f"driftd: {exc}", file=sys.stderr)
        return 1
    return 1


def _check_config(path: str) -> int:
    from driftd.config import load_config

    config = load_config(path)
    if config.monitors or config.comparisons:
        # Profiles are loaded and monitors built (features, thresholds), but Kafka is not
        # touched; without monitors nothing of the detectors is imported (fast).
        from driftd.processing import build_processor

        build_processor(config, warm=False)
    from driftd.config.advice import advice

    for line in advice(config):
        print(f"{path}: warning: {line}", file=sys.stderr)
    comparisons = f", {len(config.comparisons)} comparison(s)" if config.comparisons else ""
    print(
        f"{path}: ok ({len(config.streams)} stream(s), {len(config.monitors)} monitor(s)"
        f"{comparisons})"
    )
    return 0


def _run(path: str) -> int:
    from driftd import app
    from driftd.config import load_config
    from driftd.logs import setup_logging

    config = load_config(path)
    setup_logging(config.logging.level, config.logging.format)
    return app.run(config, config_path=path)


def _reference(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from driftd.reference import describe, load_profile, save_profile
    from driftd.reference.build import (
        BuildOptions,
        build_profile,
        load_build_options,
    )

    if args.reference_command == "show":
        print(describe(load_profile(args.profile)))
        return 0
    options = load_build_options(args.config) if args.config else BuildOptions()
    types = dict(options.types)
    types.update(dict.fromkeys(args.categorical, "categorical"))
    types.update(dict.fromkeys(args.numeric, "numeric"))
    overrides = {
        "types": types,
        "exclude": options.exclude | frozenset(args.exclude),
        "label": args.label or options.label,
        "prediction": args.prediction or options.prediction,
        "id_column": args.id or options.id_column,
    }
    for key in ("bins", "ks_sample_size", "max_categories", "joint_sample_size"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    options = replace(options, **overrides)
    if args.stream:
        return _build_from_stream(args, options)
    progress = _progress(args.input, args.quiet)

    def notice(message: str) -> None:
        if progress is not None:
            progress.close()  # end the progress line first
        print(f"driftd: {message}", file=sys.stderr)

    profile = build_profile(args.input, options, progress=progress, notice=notice)
    if progress is not None:
        progress.close()
    path = save_profile(profile, args.out)
    print(f"wrote {path}")
    print(describe(profile))
    return 0


def _build_from_stream(args: argparse.Namespace, options: Any) -> int:
    import tempfile
    from dataclasses import replace

    from driftd.config import load_config
    from driftd.reference import build_profile, describe, save_profile
    from driftd.reference.logged import columns_of, flatten

    if not args.driftd_config:
        raise ConfigError("--stream needs --driftd-config (the config that defines the stream)")
    config = load_config(args.driftd_config)
    prediction, label = columns_of(config, args.stream)
    with tempfile.TemporaryDirectory(prefix="driftd-reference-") as tmp:
        flat = Path(tmp) / "rows.jsonl"
        with flat.open("wb") as out:
            counts = flatten(config, args.stream, args.input, out)
        refused = {k: v for k, v in counts.items() if k not in ("records", "events")}
        print(
            f"{args.input}: {counts['records']:,} record(s), {counts['events']:,} row(s)"
            + (f"; refused: {refused}" if refused else ""),
            file=sys.stderr,
        )
        if not counts["events"]:
            print("driftd: no row of the input could be decoded", file=sys.stderr)
            return 1
        options = replace(
            options,
            prediction=options.prediction or prediction,
            label=options.label or label,
        )
        profile = build_profile(flat, options, notice=lambda m: print(f"driftd: {m}"))
    path = save_profile(profile, args.out)
    print(f"wrote {path}")
    print(describe(profile))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from driftd.config import load_config
    from driftd.replay import replay

    config = load_config(args.config)
    if not Path(args.input).is_file():
        print(f"driftd: --input {args.input}: no such file", file=sys.stderr)
        return EXIT_CONFIG
    progress = _progress(args.input, args.quiet)
    report = replay(
        config,
        args.input,
        args.stream,
        output=args.output,
        batch_size=args.batch_size,
        notifications=args.notifications,
        deliver=args.deliver,
        report=args.report,
        progress=progress,
    )
    if progress is not None:
        progress.close()
    print(report.summary())
    if report.rejected and not report.accepted:
        # Every record refused (a wrong timestamp_unit, another stream's data): the backtest
        # says nothing, which must not look like "no drift".
        print(
            "driftd: no record of the input could be used; see the reasons above", file=sys.stderr
        )
        return 1
    return 0


def _progress(path: str, quiet: bool) -> Any:
    """A progress line on a terminal (none with --quiet or when stderr is not a terminal)."""
    if quiet or not sys.stderr.isatty():
        return None
    from driftd.progress import Progress, count_rows

    total, estimated = count_rows(path)
    return Progress(total, "rows", estimated=estimated)


def _report(args: argparse.Namespace) -> int:
    from driftd.report.data import read_jsonl
    from driftd.report.write import write_report

    profiles = None
    if args.config:
        from driftd.config import load_config
        from driftd.monitoring.pipeline import load_profiles

        profiles = load_profiles(load_config(args.config))
    notes = read_jsonl(args.notifications) if args.notifications else []
    verdicts = read_jsonl(args.verdicts)
    written = write_report(args.output, verdicts, notes, profiles, source=Path(args.verdicts).name)
    print(f"report written to {written} ({len(verdicts):,} verdicts, {len(notes)} notifications)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import logging

    from driftd.demo import detected_both, run_demo

    logging.basicConfig(level=logging.ERROR)
    timeline = run_demo(port=args.port, rate=args.rate, report=args.report)
    return 0 if detected_both(timeline) else 1


def _status(args: argparse.Namespace) -> int:
    import base64
    import json
    import ssl
    import urllib.error
    import urllib.request

    url = args.url
    if url is None and args.config:
        from driftd.config import load_config

        # A broken config must not keep an operator from looking at the running daemon.
        try:
            http = load_config(args.config).http
        except (ConfigError, ProfileError) as exc:
            first = str(exc).splitlines()[0]
            print(
                f"driftd: {args.config} does not load ({first}); trying http://127.0.0.1:9108 "
                "(give --url to choose)",
                file=sys.stderr,
            )
        else:
            host = "127.0.0.1" if http.host in {"0.0.0.0", "::"} else http.host
            scheme = "https" if http.tls is not None else "http"
            url = f"{scheme}://{host}:{http.port}"
    url = (url or "http://127.0.0.1:9108").rstrip("/")
    context = ssl.create_default_context(cafile=args.cacert) if url.startswith("https") else None
    headers = {}
    if args.user:
        headers["Authorization"] = "Basic " + base64.b64encode(args.user.encode()).decode()
    elif args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
        headers["Authorization"] = f"Bearer {token}"

    def get(path: str) -> Any:
        request = urllib.request.Request(url + path, headers=headers)
        return urllib.request.urlopen(request, timeout=5, context=context)

    try:
        with get("/status") as resp:
            doc = json.load(resp)
        ready = get("/readyz").status == 200
    except urllib.error.HTTPError as exc:
        ready = False
        if exc.code != 503:
            hint = " (give --user or --token-file)" if exc.code == 401 else ""
            print(f"driftd: {url}/status answered {exc.code}{hint}", file=sys.stderr)
            return 1
    except OSError as exc:
        print(f"driftd: cannot reach a daemon at {url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{url}: {'ready' if ready else 'NOT READY'}")
    for stream, count in sorted(doc.get("events", {}).items()):
        print(f"  stream {stream}: {count:,} events")
    for monitor, segments in sorted(doc.get("monitors", {}).items()):
        for segment, seg in sorted(segments.items()):
            drift = [x for x in seg.get("latest", []) if x["state"] == "drift"]
            print(
                f"  monitor {monitor} [{segment}]: {seg['windows']} windows, "
                f"{seg['pending_events']} events in the open window, "
                f"{len(drift)} statistic(s) in drift"
            )
            for x in drift:
                print(
                    f"    DRIFT {x['feature']} {x['statistic']} = {x['value']:.4g} "
                    f"(limit {x['limit']:.4g})"
                )
    for monitor, concept in sorted(doc.get("concept", {}).items()):
        join = concept["join"]
        print(
            f"  concept {monitor}: {join['matched']:,} joined, {join['pending']:,} pending, "
            f"{join['expired']:,} expired"
        )
    alerts = doc.get("alerting", {}).get("alerts", [])
    firing = [a for a in alerts if a.get("state") == "firing"]
    if "alerting" in doc:
        print(f"  alerts: {len(firing)} firing, {len(alerts) - len(firing)} pending or resolving")
        for a in firing:
            labels = a["labels"]
            what = " ".join(
                f"{k}={labels[k]}" for k in ("monitor", "feature", "statistic") if labels.get(k)
            )
            print(f"    FIRING {a['alertname']} {what} since {a['active_at']}")
        outbox = doc["alerting"].get("outbox", {})
        troubles = doc["alerting"].get("failed_notifications", [])
        print(
            f"  notifications: {outbox.get('pending', 0)} pending, "
            f"{outbox.get('failed', 0)} given up"
        )
        for t in troubles:
            what = "GAVE UP" if t["state"] == "gave_up" else "RETRYING"
            print(
                f"    {what} {t['receiver']} ({t['integration']}) after {t['attempts']} "
                f"attempt(s): {t['error']}"
            )
    return 0
