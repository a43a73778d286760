"""The ``driftd`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from driftd import __version__
from driftd.errors import ConfigError, DriftdError

EXIT_CONFIG = 2


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-config":
            return _check_config(args.config)
        if args.command == "run":
            return _run(args.config)
    except ConfigError as exc:
        print(f"driftd: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DriftdError as exc:
        print(f"driftd: {exc}", file=sys.stderr)
        return 1
    return 1


def _check_config(path: str) -> int:
    from driftd.config import load_config

    config = load_config(path)
    print(f"{path}: ok ({len(config.streams)} stream(s), {len(config.monitors)} monitor(s))")
    return 0


def _run(path: str) -> int:
    from driftd import app
    from driftd.config import load_config
    from driftd.logs import setup_logging

    config = load_config(path)
    setup_logging(config.logging.level, config.logging.format)
    return app.run(config)
