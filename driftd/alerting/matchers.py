"""Label matchers (``name = value``, ``!=``, ``=~``, ``!~``) shared by routes, inhibition and
silences, with Alertmanager's semantics: regexes are anchored, and a missing label matches as the
empty string."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["=", "!=", "=~", "!~"]

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label, e.g. ``Matcher.parse('feature=~"age|income"')``.

    >>> Matcher.parse('severity!="info"').matches({"severity": "critical"})
    True
    >>> Matcher.parse("feature=~inc.*").matches({"feature": "age"})
    False
    """

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            try:
                compiled = re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r} in matcher: {exc}") from None
            object.__setattr__(self, "_regex", compiled)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse ``name op value``; the value may be double-quoted (JSON escapes apply)."""
        match = _MATCHER.match(text)
        if match is None:
            raise ValueError(
                f"invalid matcher {text!r}: write label=value, label!=value, label=~regex "
                "or label!~regex"
            )
        name, op, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f"invalid quoted value in matcher {text!r}") from None
        return cls(name, op, value)  # type: ignore[arg-type]

    @classmethod
    def from_api(cls, obj: Mapping[str, Any]) -> Matcher:
        """Build from Alertmanager's API shape ``{name, value, isRegex, isEqual}``."""
        if not isinstance(obj, Mapping):
            raise ValueError("a matcher is a string (label=value) or an object with name, value")
        name, value = obj.get("name"), obj.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError("a matcher object needs string 'name' and 'value'")
        regex, equal = bool(obj.get("isRegex", False)), bool(obj.get("isEqual", True))
        op: Op = ("=~" if equal else "!~") if regex else ("=" if equal else "!=")
        return cls(name, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when the label (``""`` if absent) satisfies this matcher."""
        actual = labels.get(self.name, "")
        if self._regex is not None:
            return (self._regex.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Parse a list of matcher strings (raises ValueError naming the bad one)."""
    return tuple(Matcher.parse(t) for t in texts)


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (so an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
