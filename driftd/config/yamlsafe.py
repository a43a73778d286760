"""A bounded YAML loader for config files: what a mistaken or hostile file cannot do.

PyYAML's safe loader still accepts an "anchor bomb" (aliases of aliases that expand to billions
of nodes when walked), nesting deep enough to exhaust the stack, and a key given twice (the
last wins silently: a second ``kafka:`` section replaced the first). This loader refuses all
three with a message naming the line, and caps the size of the text.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 64


class BoundedYamlError(yaml.YAMLError):
    """A config that breaks one of the loader's bounds."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise BoundedYamlError(
                    f"more than {MAX_ALIASES} aliases (*name): refused, a config needs few",
                    self.peek_event().start_mark,
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise BoundedYamlError(
                    f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                hash(key)
            except TypeError:
                raise BoundedYamlError(
                    "a mapping key must be a scalar", key_node.start_mark
                ) from None
            if key in seen:
                raise BoundedYamlError(
                    f"key {key!r} given twice (first at line {seen[key].line + 1}); "
                    "YAML would silently keep only the last",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse config text within the bounds above (``yaml.YAMLError`` when broken)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BoundedYamlError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB: not a config file")
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]
