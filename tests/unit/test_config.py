"""Config loading: the shipped examples validate, and bad configs get a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftd.cli import main
from driftd.config import load_config, parse_config, parse_duration
from driftd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
kafka: {bootstrap_servers: ["127.0.0.1:9092"]}
streams:
  - name: p
    topic: preds
    fields: {id: id, features: {a: f.a, b: f.b}, segments: {country: meta.country}}
monitors:
  - {name: m, streams: [p], reference: r.profile}
"""


def _problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env=env or {})
    return info.value.problems


@pytest.mark.parametrize("name", ["minimal.yaml", "full.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    config = load_config(ROOT / "configs" / name, env={})
    assert config.streams[0].topic == "model.predictions"
    assert config.kafka.bootstrap_servers == ["127.0.0.1:9092"]


def test_full_config_sets_every_key_it_documents() -> None:
    config = load_config(ROOT / "configs" / "full.yaml", env={"DRIFTD_BOOTSTRAP": "k:1"})
    monitor = config.monitors[0]
    assert config.kafka.bootstrap_servers == ["k:1"]
    assert config.kafka.poll_timeout == 0.5
    assert config.kafka.max_poll_interval == 300.0
    assert monitor.window.type == "count"
    assert monitor.thresholds.features["amount"]["ks"].type == "adaptive"
    # Relative paths are relative to the config file, not to the working directory.
    assert monitor.reference.resolve() == ROOT / "tests" / "data" / "fraud.profile"


def test_good_config_defaults() -> None:
    config = parse_config(GOOD, env={})
    assert config.kafka.group_id == "driftd"
    assert config.monitors[0].window.size == 5000
    assert config.monitors[0].statistics.numeric == ["ks", "psi"]
    assert config.streams[0].fields.feature_paths() == {"a": "f.a", "b": "f.b"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 1. not YAML at all
        ("kafka: [unclosed", "invalid YAML at line 1"),
        # 2. a list at the top level
        ("- a\n- b", "top level must be a mapping"),
        # 3. kafka section missing
        ("streams: [{name: p, topic: t, fields: {}}]", "kafka: required key is missing"),
        # 4. typo in a key, with a suggestion
        (
            GOOD.replace("bootstrap_servers", "bootstrap_server"),
            "kafka.bootstrap_server: unknown key 'bootstrap_server' "
            "(did you mean 'bootstrap_servers'?)",
        ),
        # 5. broker address without a port
        (GOOD.replace('"127.0.0.1:9092"', '"localhost"'), "kafka.bootstrap_servers[0]"),
        # 6. bad duration
        (
            GOOD.replace("kafka: {", "kafka: {poll_timeout: soon, "),
            "kafka.poll_timeout: invalid duration 'soon'",
        ),
        # 7. negative duration
        (GOOD.replace("kafka: {", "kafka: {session_timeout: -5s, "), "kafka.session_timeout"),
        # 8. heartbeat longer than the session
        (
            GOOD.replace("kafka: {", "kafka: {heartbeat_interval: 20s, "),
            "heartbeat_interval must be shorter than session_timeout",
        ),
        # 9. a monitor reading a stream that does not exist
        (
            GOOD.replace("streams: [p]", "streams: [nope]"),
            "monitors[0].streams: no stream named 'nope'",
        ),
        # 10. two streams with the same name
        (
            GOOD.replace("streams:\n", "streams:\n  - {name: p, topic: x, fields: {}}\n", 1),
            "streams: the name 'p' is used twice",
        ),
        # 11. unknown window type
        (
            GOOD.replace(
                "reference: r.profile}", "reference: r.profile, window: {type: sliding, size: 5}}"
            ),
            "monitors[0].window",
        ),
        # 12. window smaller than its minimum
        (
            GOOD.replace(
                "reference: r.profile}",
                "reference: r.profile, window: {type: count, size: 10, min_samples: 50}}",
            ),
            "min_samples cannot exceed size",
        ),
        # 13. unknown statistic
        (
            GOOD.replace(
                "reference: r.profile}", "reference: r.profile, statistics: {numeric: [ks, tvd]}}"
            ),
            "monitors[0].statistics.numeric[1]",
        ),
        # 14. static threshold without its value
        (
            GOOD.replace(
                "reference: r.profile}",
                "reference: r.profile, thresholds: {default: {type: static}}}",
            ),
            "monitors[0].thresholds.default.value: required key is missing",
        ),
        # 15. segment that no stream maps
        (
            GOOD.replace("reference: r.profile}", "reference: r.profile, segment_by: [region]}"),
            "monitors[0].segment_by: 'region' is not a segment field",
        ),
        # 16. feature list naming an unmapped feature
        (
            GOOD.replace("reference: r.profile}", "reference: r.profile, features: [a, zz]}"),
            "monitors[0].features: ['zz'] are not mapped",
        ),
        # 17. SASL without credentials
        (
            GOOD.replace(
                "kafka: {", "kafka: {security: {protocol: SASL_SSL, sasl_mechanism: PLAIN}, "
            ),
            "needs sasl_username",
        ),
        # 18. environment variable not set
        (
            GOOD.replace('"127.0.0.1:9092"', '"${NO_SUCH_VAR}"'),
            "kafka.bootstrap_servers[0]: environment variable NO_SUCH_VAR is not set",
        ),
        # 19. overlapping field paths
        (GOOD.replace("id: id,", "id: f,"), "'f' and 'f.a' overlap"),
        # 20. invalid topic name
        (GOOD.replace("topic: preds", "topic: 'has space'"), "streams[0].topic"),
        # 21. wrong config version
        ("version: 2\n" + GOOD, "version"),
        # 22. adaptive threshold with an out-of-range creep guard
        (
            GOOD.replace(
                "reference: r.profile}",
                "reference: r.profile, thresholds: {default: "
                "{type: adaptive, max_inflation: 0.5, base: {type: static, value: 1}}}}",
            ),
            "monitors[0].thresholds.default.max_inflation",
        ),
        # 22b. a key of the removed mean + k-sigma method, named with what replaced it
        (
            GOOD.replace(
                "reference: r.profile}",
                "reference: r.profile, thresholds: {default: "
                "{type: adaptive, k: 4, base: {type: static, value: 1}}}}",
            ),
            "max_inflation",
        ),
        # 23. a secret file that cannot be read
        (
            GOOD.replace(
                "kafka: {",
                "kafka: {security: {protocol: SASL_SSL, sasl_mechanism: PLAIN, "
                "sasl_username: u, sasl_password_file: /nonexistent/pw}, ",
            ),
            "cannot read sasl_password_file '/nonexistent/pw'",
        ),
    ],
)
def test_bad_config_is_named_by_key_path(text: str, expected: str) -> None:
    problems = _problems(text)
    assert any(expected in p for p in problems), problems


def test_every_error_is_reported_at_once() -> None:
    text = GOOD.replace("kafka: {", "kafka: {poll_timeout: x, group_idd: g, ").replace(
        "reference: r.profile}", "reference: r.profile, window: {type: count, size: 1}}"
    )
    problems = _problems(text)
    assert len(problems) == 3, problems


def test_env_expansion_and_default() -> None:
    text = GOOD.replace('"127.0.0.1:9092"', '"${BROKER}", "${OTHER:-b:2}"')
    config = parse_config(text, env={"BROKER": "a:1"})
    assert config.kafka.bootstrap_servers == ["a:1", "b:2"]


def test_secret_from_file_is_read_and_hidden(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    text = GOOD.replace(
        "kafka: {",
        "kafka: {security: {protocol: SASL_SSL, sasl_mechanism: PLAIN, sasl_username: u, "
        f"sasl_password_file: {secret}}}, ",
    )
    config = parse_config(text, env={})
    password = config.kafka.security.sasl_password
    assert password is not None
    assert password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)


def test_config_is_frozen() -> None:
    config = parse_config(GOOD, env={})
    with pytest.raises(ValueError, match="frozen"):
        config.kafka.group_id = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), (7, 7.0)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-c", str(ROOT / "configs" / "full.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("kafka: {", "kafka: {poll_timeout: 1y, "))
    assert main(["check-config", "-c", str(bad)]) == 2
    assert "kafka.poll_timeout: invalid duration '1y'" in capsys.readouterr().err
    assert main(["check-config", "-c", str(tmp_path / "missing.yaml")]) == 2


PROFILE = ROOT / "tests" / "data" / "fraud.profile"


def _monitor_config(tmp_path: Path, thresholds: str) -> Path:
    path = tmp_path / "driftd.yaml"
    path.write_text(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9092"]}}
streams:
  - name: p
    topic: preds
    fields: {{features: {{amount: f.amount, country: f.country}}}}
monitors:
  - name: m
    streams: [p]
    reference: {PROFILE}
    features: [amount, country]
    prediction_drift: false
    thresholds: {thresholds}
"""
    )
    return path


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        # A typo in a feature name under thresholds.features: named, with a hint.
        ("{features: {amout: {ks: {type: static, value: 0.1}}}}", "did you mean 'amount'"),
        # A typo in a statistic under a feature.
        ("{features: {amount: {kss: {type: static, value: 0.1}}}}", "did you mean 'ks'"),
        # A statistic the feature's type does not compute (linf is categorical).
        ("{features: {amount: {linf: {type: static, value: 0.1}}}}", "amount is numeric"),
        # Schema rates cannot be calibrated: refused at start-up, not on the first event.
        ("{statistics: {schema: {type: calibrated}}}", "no null model to calibrate"),
        ("{features: {country: {schema: {type: calibrated}}}}", "no null model to calibrate"),
    ],
)
def test_threshold_keys_are_checked_against_the_profile_at_start_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], thresholds: str, expected: str
) -> None:
    assert main(["check-config", "-c", str(_monitor_config(tmp_path, thresholds))]) == 2
    assert expected in capsys.readouterr().err


def test_a_per_feature_schema_threshold_is_used(tmp_path: Path) -> None:
    from driftd.monitoring.pipeline import MonitoringProcessor
    from driftd.processing import build_processor

    path = _monitor_config(tmp_path, "{features: {country: {schema: {type: static, value: 0.5}}}}")
    processor = build_processor(load_config(path), warm=False)
    assert isinstance(processor, MonitoringProcessor)
    segment = processor.monitors[0]._new_segment()
    assert [limit.limit(100) for limit in segment.schema_limits] == [0.05, 0.5]


def test_a_missing_profile_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _monitor_config(tmp_path, "{}")
    path.write_text(path.read_text().replace(str(PROFILE), str(tmp_path / "nope.profile")))
    assert main(["check-config", "-c", str(path)]) == 2
    assert "nope.profile" in capsys.readouterr().err


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n"
    for i in range(9)
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # An anchor bomb: nine levels of nine aliases (387 M nodes if walked).
        (BOMB, "aliases"),
        # Nesting 100,000 deep once ended in RecursionError.
        ("a: " + "[" * 100_000 + "]" * 100_000, "nested more than"),
        # A key twice: YAML keeps the last; here it is refused, naming both lines.
        ("kafka: {bootstrap_servers: [a:1]}\nkafka: {bootstrap_servers: [b:1]}\n", "given twice"),
        ("kafka:\n  group_id: a\n  group_id: b\n", "given twice"),
        # Not text at all.
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8"),
    ],
)
def test_hostile_config_files_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, expected: str
) -> None:
    path = tmp_path / "driftd.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_a_fifo_or_a_directory_is_refused_without_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    assert main(["check-config", "-c", str(fifo)]) == 2
    assert main(["check-config", "-c", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("not a regular file") == 2


def test_errors_name_a_secret_key_but_never_echo_its_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "driftd.yaml"
    path.write_text(
        """
kafka:
  bootstrap_servers: ["b:9092"]
  security: {protocol: SASL_SSL, sasl_mechanism: PLAIN, sasl_username: u,
             sasl_password: 918273645}
streams: [{name: p, topic: t, fields: {features: {a: a}}}]
"""
    )
    main(["check-config", "-c", str(path)])
    err = capsys.readouterr().err
    assert "918273645" not in err


def test_a_port_in_use_is_a_config_error() -> None:
    import socket

    from prometheus_client import CollectorRegistry

    from driftd.config.models import HttpConfig
    from driftd.health import Health
    from driftd.http import HttpServer

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            HttpServer(HttpConfig(host="127.0.0.1", port=port), CollectorRegistry(), Health())


def test_an_outbox_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry

    from driftd.alerting import AlertingConfig, build_alerting

    (tmp_path / "outbox").write_text("not a directory")
    config = AlertingConfig.model_validate(
        {
            "outbox_dir": str(tmp_path / "outbox"),
            "route": {"receiver": "hook"},
            "receivers": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/h"}],
        }
    )
    with pytest.raises(ConfigError, match=r"alerting\.outbox_dir"):
        build_alerting(config, CollectorRegistry())


def test_hints_use_the_names_users_write() -> None:
    text = (
        GOOD
        + """
alerting:
  route: {receiver: hook, routes: [{receiver: hook, contnue: true}]}
  receivers: [{name: hook, type: webhook, url: "http://127.0.0.1:9/h"}]
"""
    )
    problems = _problems(text)
    assert any("did you mean 'continue'?" in p for p in problems), problems


def test_check_config_imports_only_what_the_config_uses(tmp_path: Path) -> None:
    """check-config stays quick (about 1 s): a monitor without a concept section loads no
    river, no scipy.stats, no Kafka client, no pyarrow and no HTTP server."""
    import subprocess
    import sys

    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(
        f"""
kafka: {{bootstrap_servers: ["k:1"]}}
streams:
  - name: predictions
    topic: preds
    fields: {{id: request_id, features: {{amount: features.amount, age: features.age}}}}
monitors:
  - name: fraud
    streams: [predictions]
    reference: {ROOT / "tests" / "data" / "fraud.profile"}
    features: [amount, age]
"""
    )
    probe = (
        "import sys\n"
        "from driftd.cli import main\n"
        f"assert main(['check-config', '-c', {str(cfg)!r}]) == 0\n"
        "heavy = ('scipy.stats', 'river', 'kafka', 'pyarrow', 'driftd.web', 'driftd.app')\n"
        "print(sorted({m.split('.')[0] + '.' + m.split('.')[1] if '.' in m else m\n"
        "              for m in sys.modules if m.startswith(heavy)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_a_key_in_the_wrong_section_is_named_so_not_suggested_to_itself() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            "kafka: {bootstrap_servers: ['k:1']}\n"
            "schema_registry: {url: 'http://r:8081'}\n"
            "streams: [{name: a, topic: t, format: avro, schema_registry: {url: 'http://r'},"
            " fields: {features: {x: x}}}]\n",
            env={},
        )
    message = str(caught.value)
    assert "streams[0].schema_registry: unknown key 'schema_registry' here" in message
    assert "did you mean 'schema_registry'" not in message
