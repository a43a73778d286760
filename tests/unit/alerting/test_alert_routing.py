"""Matchers and the route tree: matching, continue, inheritance, group labels."""

from __future__ import annotations

import pytest

from driftd.alerting.alert import as_labels
from driftd.alerting.config import RouteConfig
from driftd.alerting.matchers import Matcher
from driftd.alerting.routing import Route

LABELS = {"alertname": "DataDrift", "monitor": "fraud", "feature": "age", "severity": "critical"}


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        ('severity="critical"', True),  # quoted equality
        ("severity=critical", True),  # unquoted equality
        ("severity = critical", True),  # spaces around the operator
        ("severity!=critical", False),
        ("severity!=warning", True),
        ("feature=~ag.", True),  # regex
        ('feature=~"a"', False),  # regexes are anchored: "a" does not match "age"
        ("feature!~inc.*", True),
        ("team=", True),  # a missing label equals the empty string
        ('team!=""', False),
        ("team=~.*", True),
        ('monitor="fr\\"aud"', False),  # JSON escapes in quoted values
    ],
)
def test_matcher_semantics(matcher: str, expected: bool) -> None:
    assert Matcher.parse(matcher).matches(LABELS) is expected


@pytest.mark.parametrize("bad", ["severity", "=x", "sev erity=x", 'f=~"("', "1abc=x"])
def test_bad_matchers_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"matcher|regex"):
        Matcher.parse(bad)


def test_matcher_from_api_shape_and_str_round_trip() -> None:
    m = Matcher.from_api({"name": "feature", "value": "age|inc", "isRegex": True, "isEqual": False})
    assert m.op == "!~"
    assert Matcher.parse(str(m)) == m


TREE = RouteConfig.model_validate(
    {
        "receiver": "default",
        "group_by": ["alertname", "monitor"],
        "group_wait": 10,
        "group_interval": 60,
        "repeat_interval": 3600,
        "routes": [
            {  # 0: pages on critical, and lets the alert go on to the next routes
                "matchers": ['severity="critical"'],
                "receiver": "pager",
                "continue": True,
                "repeat_interval": 600,
            },
            {  # 1: the fraud team; a child for its schema alerts
                "matchers": ['monitor="fraud"'],
                "receiver": "fraud-team",
                "group_by": ["..."],
                "routes": [{"matchers": ['alertname="DataQuality"'], "receiver": "data-eng"}],
            },
            {  # 2: never reached for fraud alerts: route 1 does not continue
                "matchers": ["monitor=~.+"],
                "receiver": "catch-all",
                "group_wait": 0,
            },
        ],
    }
)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # Critical fraud drift: the pager (continue), then the fraud team; not the catch-all.
        (LABELS, ["pager", "fraud-team"]),
        # Warning fraud drift: the fraud team only.
        ({**LABELS, "severity": "warning"}, ["fraud-team"]),
        # Fraud data quality: the nested child wins over its parent.
        ({**LABELS, "severity": "info", "alertname": "DataQuality"}, ["data-eng"]),
        # Another monitor: the catch-all.
        ({**LABELS, "monitor": "churn", "severity": "warning"}, ["catch-all"]),
        # No monitor label at all: nothing below the root matches, so the root handles it.
        ({"alertname": "NoData"}, ["default"]),
    ],
)
def test_route_tree_matching(labels: dict[str, str], expected: list[str]) -> None:
    route = Route.build(TREE)
    assert [r.receiver for r in route.match(labels)] == expected


def test_children_inherit_unset_settings() -> None:
    route = Route.build(TREE)
    pager, fraud, catch_all = route.routes
    data_eng = fraud.routes[0]
    # Set on the node itself.
    assert pager.repeat_interval == 600
    assert catch_all.group_wait == 0
    # Inherited from the root...
    assert (pager.group_wait, pager.group_interval) == (10, 60)
    assert pager.group_by == ("alertname", "monitor")
    # ...and through an intermediate node, including group_by ['...'] (None: every label).
    assert fraud.group_by is None
    assert data_eng.group_by is None
    assert (data_eng.group_wait, data_eng.repeat_interval) == (10, 3600)
    assert [r.id for r in route.walk()] == ["root", "root/0", "root/1", "root/1/0", "root/2"]


def test_defaults_follow_alertmanager() -> None:
    route = Route.build(RouteConfig(receiver="x"))
    assert (route.group_wait, route.group_interval, route.repeat_interval) == (30, 300, 14400)
    assert route.group_by == ("alertname", "monitor")


def test_group_labels_and_keys() -> None:
    route = Route.build(TREE)
    labels = as_labels(LABELS)
    assert route.group_labels(labels) == (("alertname", "DataDrift"), ("monitor", "fraud"))
    assert route.group_key(route.group_labels(labels)) == (
        'root:{alertname="DataDrift",monitor="fraud"}'
    )
    fraud = route.routes[1]
    assert fraud.group_labels(labels) == labels  # '...': every label, one alert per group
    assert fraud.group_key(()) == "root/1:{}"
