"""Deployment artefacts: Kubernetes manifests, Helm chart, Dockerfile and Grafana dashboard.

Nothing here needs a cluster, Docker or helm: manifests are checked against the Kubernetes
OpenAPI schemas bundled with ``kubernetes-validate``, the embedded driftd.yaml with driftd's own
config model, and the Helm templates with a crude render (template actions replaced by
placeholders) that still catches YAML and structure mistakes.
"""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from driftd.config import DriftdConfig, parse_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
CHART = DEPLOY / "helm" / "driftd"
DOCKERFILE = DEPLOY / "Dockerfile"
DASHBOARD = DEPLOY / "grafana" / "driftd-dashboard.json"

# The newest Kubernetes release whose schemas kubernetes-validate bundles (1.37 with 1.37.0).
K8S_VERSION = kubernetes_validate.latest_version()
CRD_KINDS = {
    "ServiceMonitor",
    "PrometheusRule",
}  # not in the bundled schemas: checked structurally below
HTTP_PORT = 9108
STATE_DIR = "/var/lib/driftd"
CONFIG_PATH = "/etc/driftd/driftd.yaml"

# Every metric driftd exports, with its labels (histograms also have _bucket/_sum/_count).
METRICS: dict[str, set[str]] = {
    "driftd_build_info": {"version"},
    "driftd_ready": set(),
    "driftd_records_consumed_total": {"stream"},
    "driftd_records_rejected_total": {"stream", "reason"},
    "driftd_events_decoded_total": {"stream"},
    "driftd_last_event_timestamp_seconds": {"stream"},
    "driftd_poll_batches_total": set(),
    "driftd_batch_processing_seconds": set(),
    "driftd_offset_commits_total": set(),
    "driftd_offset_commit_failures_total": set(),
    "driftd_dead_letter_records_total": {"stream"},
    "driftd_assigned_partitions": set(),
    "driftd_consumer_lag_records": {"topic", "partition"},
    "driftd_drift_statistic": {"monitor", "segment", "kind", "feature", "statistic"},
    "driftd_drift_limit": {"monitor", "segment", "kind", "feature", "statistic"},
    "driftd_drift_detected": {"monitor", "segment", "kind", "feature", "statistic"},
    "driftd_windows_evaluated_total": {"monitor", "result"},
    "driftd_schema_anomalies_total": {"monitor", "feature", "anomaly"},
    "driftd_notifications_total": {"receiver", "integration"},
    "driftd_notifications_failed_total": {"receiver", "integration", "reason"},
    "driftd_notification_latency_seconds": {"receiver", "integration"},
    "driftd_outbox_pending": set(),
    "driftd_alerts": {"alertname", "state"},
    "driftd_label_join_matched_total": {"monitor"},
    "driftd_label_join_expired_total": {"monitor"},
    "driftd_label_join_pending": {"monitor"},
    "driftd_label_delay_seconds": {"monitor"},
    "driftd_performance": {"monitor", "metric"},
    "driftd_config_last_reload_successful": set(),
}
# Exported too, used by the Prometheus rules but by no dashboard panel.
RULE_METRICS: dict[str, set[str]] = {
    "driftd_concept_drift_detections_total": {"monitor", "detector"},
    "driftd_checkpoint_failures_total": set(),
}
HISTOGRAMS = {
    "driftd_batch_processing_seconds",
    "driftd_notification_latency_seconds",
    "driftd_label_delay_seconds",
}
TARGET_LABELS = {"instance", "job", "namespace", "pod", "service", "container"}


# --- helpers -----------------------------------------------------------------------------------


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@cache
def _manifests() -> dict[str, list[dict[str, Any]]]:
    """Every object of deploy/kubernetes by file name (kustomization.yaml excluded)."""
    return {
        p.name: _load_all(p) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"
    }


def _objects(kind: str) -> list[dict[str, Any]]:
    return [doc for docs in _manifests().values() for doc in docs if doc["kind"] == kind]


def _one(kind: str) -> dict[str, Any]:
    (obj,) = _objects(kind)
    return obj


def _container(statefulset: dict[str, Any]) -> dict[str, Any]:
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    return container


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _placeholder_env(env: list[dict[str, Any]]) -> dict[str, str]:
    """The pod's environment as driftd sees it, with placeholder values."""
    return {item["name"]: "placeholder" for item in env}


def _check_probes(container: dict[str, Any]) -> None:
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": HTTP_PORT}
    # /readyz needs the broker: only readiness may depend on Kafka. A startup probe on /readyz
    # would turn a Kafka outage at pod start into a restart loop.
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == HTTP_PORT, probe
    startup = container["startupProbe"]
    # A cold Numba cache, a state restore and a group join must fit before the first restart.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert container["livenessProbe"]["failureThreshold"] >= 3


def _check_pdb(pdb: dict[str, Any]) -> None:
    # With Kafka down every pod is unready: the default policy would block all node drains.
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def _check_hardening(pod: dict[str, Any], container: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["terminationGracePeriodSeconds"] == 60
    assert pod["automountServiceAccountToken"] is False
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["runAsNonRoot"] is True
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}


# --- plain manifests ---------------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(_manifests())
    assert "namespace" not in kustomization


def test_manifests_cover_the_deployment() -> None:
    kinds = sorted(doc["kind"] for docs in _manifests().values() for doc in docs)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Secret",
            "StatefulSet",
            "Service",
            "Service",
            "ServiceMonitor",
            "PrometheusRule",
            "PodDisruptionBudget",
        ]
    )
    for docs in _manifests().values():
        for doc in docs:
            assert "namespace" not in doc["metadata"], "manifests are namespace-agnostic"
            assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "driftd"


@pytest.mark.parametrize(
    ("name", "index"),
    [
        (name, i)
        for name, docs in _manifests().items()
        for i, doc in enumerate(docs)
        if doc["kind"] not in CRD_KINDS
    ],
)
def test_manifest_matches_the_kubernetes_schema(name: str, index: int) -> None:
    doc = _manifests()[name][index]
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_servicemonitor_scrapes_the_metrics_service_once() -> None:
    monitor = _one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert "namespaceSelector" not in monitor["spec"]  # same namespace as the Service
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [s for s in _objects("Service") if _selects(selector, s["metadata"]["labels"])]
    assert [s["metadata"]["name"] for s in selected] == ["driftd-metrics"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"
    assert "metrics" in {p["name"] for p in selected[0]["spec"]["ports"]}


def test_services_select_the_pods() -> None:
    sts = _one("StatefulSet")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert _selects(sts["spec"]["selector"]["matchLabels"], pod_labels)
    services = {s["metadata"]["name"]: s for s in _objects("Service")}
    assert services[sts["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    for service in services.values():
        assert _selects(service["spec"]["selector"], pod_labels)
        (port,) = service["spec"]["ports"]
        assert (port["name"], port["port"], port["targetPort"]) == ("metrics", HTTP_PORT, "metrics")
    pdb = _one("PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert _selects(pdb["spec"]["selector"]["matchLabels"], pod_labels)
    _check_pdb(pdb)


def test_statefulset_probes_and_hardening() -> None:
    sts = _one("StatefulSet")
    assert sts["spec"]["replicas"] == 2
    pod = sts["spec"]["template"]["spec"]
    container = _container(sts)
    assert container["args"] == ["run", "-c", CONFIG_PATH]
    _check_probes(container)
    _check_hardening(pod, container)


def test_statefulset_volumes() -> None:
    sts = _one("StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    container = _container(sts)
    claims = {t["metadata"]["name"]: t for t in sts["spec"]["volumeClaimTemplates"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts.values()) == set(volumes) | set(claims)
    # State on the claim; config, profiles and secrets read-only; /tmp for a read-only root.
    assert mounts[STATE_DIR] in claims
    assert claims[mounts[STATE_DIR]]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "emptyDir" in volumes[mounts["/tmp"]]
    config_names = {c["metadata"]["name"] for c in _objects("ConfigMap")}
    assert volumes[mounts["/etc/driftd"]]["configMap"]["name"] in config_names
    secret_names = {s["metadata"]["name"] for s in _objects("Secret")}
    assert volumes[mounts["/run/secrets/driftd"]]["secret"]["secretName"] in secret_names
    for mount in container["volumeMounts"]:
        assert mount.get("readOnly", False) == (mount["mountPath"] not in {STATE_DIR, "/tmp"})
    env = {e["name"]: e for e in container["env"]}
    assert env["NUMBA_CACHE_DIR"]["value"].startswith(STATE_DIR + "/")
    for item in env.values():
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            secret = next(s for s in _objects("Secret") if s["metadata"]["name"] == ref["name"])
            assert ref["key"] in secret["stringData"]


def test_secret_example_holds_placeholders_only() -> None:
    secret = _one("Secret")
    assert secret["stringData"]
    assert set(secret["stringData"].values()) == {"REPLACE_ME"}
    assert "data" not in secret


def test_configmap_holds_a_valid_driftd_config() -> None:
    sts = _one("StatefulSet")
    container = _container(sts)
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    name = volumes[mounts[str(Path(CONFIG_PATH).parent)]]["configMap"]["name"]
    (configmap,) = [c for c in _objects("ConfigMap") if c["metadata"]["name"] == name]
    text = configmap["data"][Path(CONFIG_PATH).name]
    # Every ${VAR} without a default must be set in the pod; parse_config only resolves the
    # monitors' reference paths, it does not open the profiles.
    config = parse_config(text, source="configmap.yaml", env=_placeholder_env(container["env"]))
    _check_container_config(config, container)
    assert config.kafka.security.protocol == "SASL_SSL"
    assert config.kafka.security.sasl_password is not None


def _check_container_config(config: DriftdConfig, container: dict[str, Any]) -> None:
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert config.http.port == HTTP_PORT
    assert config.http.host == "0.0.0.0"
    assert str(config.state.dir) == mounts["state"] == STATE_DIR
    assert config.logging.format == "json"
    assert config.monitors
    for monitor in config.monitors:
        assert monitor.reference.parent == Path(mounts["profiles"])


# --- Helm chart --------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{.*?\}\}")
CHART_KINDS = {
    "PrometheusRule",
    "ConfigMap",
    "Secret",
    "StatefulSet",
    "Service",
    "ServiceMonitor",
    "PodDisruptionBudget",
}


def _templates() -> list[Path]:
    return sorted((CHART / "templates").glob("*.yaml"))


def _crude_render(text: str) -> Any:
    """Template actions out: lines of actions only are dropped, inline ones become ``x``."""
    lines = []
    for line in text.splitlines():
        if "{{" in line and not _ACTION.sub("", line).strip():
            continue  # control flow, or an include/toYaml block that fills its parent key
        lines.append(_ACTION.sub("x", line))
    return yaml.safe_load("\n".join(lines))


@cache
def _values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == CHART.name == "driftd"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert isinstance(chart["appVersion"], str)
    assert (
        chart["appVersion"]
        == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    )


def test_chart_values() -> None:
    values = _values()
    assert values["replicaCount"] == 2
    assert values["serviceMonitor"]["enabled"] is False
    assert values["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    assert values["persistence"]["enabled"] is True
    assert values["containerPort"] == values["service"]["port"] == HTTP_PORT
    container = {
        "ports": [{"name": "metrics", "containerPort": values["containerPort"]}],
        **{k: values[k] for k in ("startupProbe", "livenessProbe", "readinessProbe")},
        "securityContext": values["securityContext"],
        "resources": values["resources"],
    }
    _check_probes(container)
    pod = {
        "securityContext": values["podSecurityContext"],
        "terminationGracePeriodSeconds": values["terminationGracePeriodSeconds"],
        "automountServiceAccountToken": False,  # fixed in the template
    }
    _check_hardening(pod, container)


def test_chart_config_block_is_a_valid_driftd_config() -> None:
    values = _values()
    env = [{"name": "POD_NAME"}, {"name": "NUMBA_CACHE_DIR"}, *values["secretEnv"]]
    env += values["extraEnv"]
    config = parse_config(yaml.safe_dump(values["config"]), env=_placeholder_env(env))
    container = {
        "volumeMounts": [
            {"name": "state", "mountPath": values["persistence"]["mountPath"]},
            {"name": "profiles", "mountPath": values["profiles"]["mountPath"]},
        ]
    }
    _check_container_config(config, container)


@pytest.mark.parametrize("template", _templates(), ids=lambda p: p.name)
def test_chart_template_parses(template: Path) -> None:
    doc = _crude_render(template.read_text(encoding="utf-8"))
    assert doc["kind"] in CHART_KINDS
    assert doc["metadata"]["name"].startswith("x")  # the release-qualified name from a helper
    assert "namespace" not in doc["metadata"]


def test_chart_templates_cover_the_deployment() -> None:
    kinds = sorted(_crude_render(t.read_text(encoding="utf-8"))["kind"] for t in _templates())
    assert kinds == sorted([*CHART_KINDS, "Service"])
    sts = _crude_render((CHART / "templates" / "statefulset.yaml").read_text(encoding="utf-8"))
    assert "checksum/config" in sts["spec"]["template"]["metadata"]["annotations"]
    text = (CHART / "templates" / "statefulset.yaml").read_text(encoding="utf-8")
    assert '"/configmap.yaml") . | sha256sum' in text
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "state"
    mounts = {m["name"]: m["mountPath"] for m in _container(sts)["volumeMounts"]}
    assert mounts["config"] == str(Path(CONFIG_PATH).parent)
    pdb = (CHART / "templates" / "poddisruptionbudget.yaml").read_text(encoding="utf-8")
    _check_pdb(_crude_render(pdb))


def test_chart_references_defined_values_and_helpers() -> None:
    sources = [*(CHART / "templates").glob("*.yaml"), *(CHART / "templates").glob("*.t*")]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    defined = set(re.findall(r'\{\{-? define "([^"]+)"', text))
    used = set(re.findall(r'\binclude "([^"]+)"', text))
    assert used <= defined
    for ref in sorted(set(re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text))):
        node: Any = _values()
        for key in ref.strip(".").split("."):
            assert isinstance(node, dict), f".Values{ref}"
            assert key in node, f".Values{ref} is not in values.yaml"
            node = node[key]


# --- Dockerfile --------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def test_dockerfile() -> None:
    instructions = _dockerfile()
    args = dict(a.split("=", 1) for i, a in instructions if i == "ARG" and "=" in a)
    froms = [i for i, (name, _) in enumerate(instructions) if name == "FROM"]
    assert len(froms) >= 2, "multi-stage: build, then runtime"
    images = [re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], instructions[i][1]) for i in froms]
    assert all(image.startswith("python:3.11") for image in images)
    assert "slim" in images[-1].split()[0]
    final = dict(instructions[froms[-1] :])  # the last occurrence of each instruction
    user = final["USER"].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric uid lets Kubernetes enforce runAsNonRoot"
    assert str(HTTP_PORT) in final["EXPOSE"].split()
    assert json.loads(final["ENTRYPOINT"]) == ["driftd"]
    assert json.loads(final["CMD"]) == ["run", "-c", CONFIG_PATH]
    env = " ".join(a for i, a in instructions[froms[-1] :] if i == "ENV")
    assert f"NUMBA_CACHE_DIR={STATE_DIR}/" in env
    build = " ".join(a for i, a in instructions[: froms[-1]] if i == "RUN")
    assert "pip wheel" in build
    # Pinned by digest, or through a build argument documented for passing the digest.
    base = instructions[froms[-1]][1].split()[0]
    if "@" not in base:
        assert base == "${BASE_IMAGE}"
        assert args["BASE_IMAGE"].startswith("python:3.11-slim-bookworm")
        assert "--build-arg BASE_IMAGE=python:3.11-slim-bookworm@sha256:" in (
            DOCKERFILE.read_text(encoding="utf-8")
        )
    for image in images:
        if "@" in image:
            assert re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", image.split()[0]), image


def test_dockerfile_installs_pinned_dependencies_before_the_sources() -> None:
    instructions = _dockerfile()
    runtime = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    build = instructions[:runtime]
    copies = [(i, a.split()) for i, (name, a) in enumerate(build) if name == "COPY"]
    runs = [(i, a) for i, (name, a) in enumerate(build) if name == "RUN"]
    (deps_copy,) = [(i, a) for i, a in copies if "deploy/constraints.txt" in a]
    index, sources = deps_copy
    assert "pyproject.toml" in sources
    assert not set(sources[:-1]) - {"pyproject.toml", "deploy/constraints.txt"}, "no sources"
    target = sources[-1]
    constraints = "constraints.txt" if target.endswith("/") else target
    # The install from the constraints runs after that COPY and before any source is copied:
    # editing driftd/ must not invalidate the dependency layer.
    (install,) = [(i, a) for i, a in runs if f"-c {constraints}" in a]
    (source,) = [i for i, a in copies if a[0] == "driftd"]
    assert index < install[0] < source
    assert "tomllib" in install[1] and "['project']['dependencies']" in install[1]
    assert "pip install -r requirements.txt" in install[1]
    wheel = next(a for i, a in runs if "pip wheel" in a)
    assert "--no-deps /dist/driftd-" in wheel, "nothing beyond the pinned layer is installed"
    assert "pip check" in wheel


def _pins() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for raw in (DEPLOY / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version and not set(version) & set("<>=!~*,; "), f"not exact: {line}"
            pins[canonicalize_name(name)] = version
    return pins


def test_constraints_pin_the_runtime_dependencies() -> None:
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in deploy/constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]}"
    tools = {
        canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["test"]
    }
    assert not tools & set(pins), "test tools do not belong in the image"
    # Transitive dependencies too, as far as this environment can tell (same versions only).
    for name, version in pins.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                assert canonicalize_name(req.name) in pins, f"{name} needs {req.name}"


def _docker_ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    parts = path.split("/")
    for rule in patterns:
        negate = rule.startswith("!")
        pattern = rule.removeprefix("!").rstrip("/")
        if any(fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_build_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = set()
    for instruction, arguments in _dockerfile():
        if instruction == "COPY" and not arguments.startswith("--from"):
            copied.update(arguments.split()[:-1])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert {"pyproject.toml", project["project"]["readme"], *packages} <= copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not _docker_ignored(source, patterns), f"add !{source} to .dockerignore"
    assert not _docker_ignored("driftd/config/loader.py", patterns)
    for path in (".venv/bin/python", ".git/HEAD", "tests/data/fraud.profile", "driftd/__pycache__"):
        assert _docker_ignored(path, patterns), path


# --- Grafana dashboard -------------------------------------------------------------------------

_METRIC = re.compile(r"\bdriftd_[a-z_]+")
_SELECTOR = re.compile(r"\b(driftd_[a-z_]+)\{([^}]*)\}")
_BY = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_RATE = re.compile(r"\b(?:rate|irate|increase)\(\s*(driftd_[a-z_]+)")
_LABEL_VALUES = re.compile(r"label_values\(\s*(driftd_[a-z_]+)(?:\{[^}]*\})?\s*,\s*(\w+)\s*\)")


@cache
def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels() -> list[dict[str, Any]]:
    out = []
    for panel in _dashboard()["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def _exprs() -> list[str]:
    exprs = [t["expr"] for p in _panels() for t in p.get("targets", [])]
    for var in _dashboard()["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(var["definition"])
    return exprs


def _metric(name: str) -> str:
    """The exported metric a series name belongs to (histogram suffixes stripped)."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return name.removesuffix(suffix)
    return name


def test_dashboard_structure() -> None:
    dash = _dashboard()
    assert 36 <= dash["schemaVersion"] <= 41
    assert dash["uid"] and dash["title"]
    (ds_input,) = dash["__inputs"]
    assert (ds_input["name"], ds_input["type"], ds_input["pluginId"]) == (
        "DS_PROMETHEUS",
        "datasource",
        "prometheus",
    )
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert {"monitor", "feature"} <= set(variables)
    ids = [p["id"] for p in _panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in _panels():
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            assert panel["targets"], panel["title"]
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]
    titles = {p["title"] for p in _panels()}
    for wanted in ("Ingest rate", "Consumer lag", "Features in drift now", "Outbox pending"):
        assert wanted in titles
    drift = next(p for p in _panels() if p["title"].startswith("Drift statistic vs limit"))
    assert [_METRIC.findall(t["expr"]) for t in drift["targets"]] == [
        ["driftd_drift_statistic"],
        ["driftd_drift_limit"],
    ]


def _check_query(expr: str, metrics: dict[str, set[str]] = METRICS) -> list[str]:
    """Fail unless ``expr`` uses exported metrics with their labels; the metrics it uses."""
    names = [_metric(n) for n in _METRIC.findall(expr)]
    assert names, expr
    unknown = sorted(set(names) - set(metrics))
    assert not unknown, f"{expr}: unknown metric(s) {unknown}"
    for name, matchers in _SELECTOR.findall(expr):
        labels = {m.split("=")[0].rstrip("!~").strip() for m in matchers.split(",") if m}
        assert labels <= metrics[_metric(name)], f"{expr}: {labels}"
    allowed = set().union(*(metrics[n] for n in names)) | TARGET_LABELS
    if any(n in HISTOGRAMS for n in names):
        allowed.add("le")
    for group in _BY.findall(expr):
        labels = {label.strip() for label in group.split(",") if label.strip()}
        assert labels <= allowed, f"{expr}: grouping by {labels - allowed}"
    for name in _RATE.findall(expr):
        assert name.endswith(("_total", "_bucket", "_sum", "_count")), f"{expr}: rate of a gauge"
    if "histogram_quantile" in expr:
        assert all(n.endswith("_bucket") for n in _METRIC.findall(expr)), expr
    for name, label in _LABEL_VALUES.findall(expr):
        assert label in metrics[name], expr
    return names


def test_dashboard_queries_use_exported_metrics_and_labels() -> None:
    used: set[str] = set()
    for expr in _exprs():
        used.update(_check_query(expr))
    assert used == set(METRICS), f"no panel for {sorted(set(METRICS) - used)}"


# --- Prometheus rules --------------------------------------------------------------------------

RULES = DEPLOY / "prometheus" / "driftd-rules.yml"


def _rules() -> dict[str, Any]:
    return yaml.safe_load(RULES.read_text(encoding="utf-8"))


def test_rules_query_exported_metrics_with_their_labels() -> None:
    rules = [r for g in _rules()["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules if "alert" in r} >= {
        "DriftdDataDrift",
        "DriftdPredictionDrift",
        "DriftdSchemaDrift",
        "DriftdConceptDrift",
        "DriftdDown",
        "DriftdNotReady",
        "DriftdOutboxBacklog",
        "DriftdNotificationsFailing",
        "DriftdConfigReloadFailed",
        "DriftdConsumerLagGrowing",
    }
    for rule in rules:
        if rule.get("alert") == "DriftdDown":
            continue  # up{job} is Prometheus's own series
        _check_query(rule["expr"], METRICS | RULE_METRICS)
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"critical", "warning"}
            assert rule["annotations"]["summary"]


def test_prometheusrule_manifests_hold_the_rules_file() -> None:
    (rule,) = [d for docs in _manifests().values() for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["spec"] == _rules(), "regenerate deploy/kubernetes/prometheusrule.yaml"
    linked = CHART / "files" / "driftd-rules.yml"
    assert linked.resolve() == RULES.resolve()
    template = (CHART / "templates" / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert '.Files.Get "files/driftd-rules.yml" | nindent 2' in template
