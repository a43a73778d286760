"""Reading a config file: YAML, ``${ENV}`` expansion, validation, errors by key path."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from driftd.config.models import DriftdConfig
from driftd.config.yamlsafe import MAX_BYTES, load_yaml
from driftd.errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(path: str | Path, env: dict[str, str] | None = None) -> DriftdConfig:
    """Load, expand and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        # Only a regular file: a FIFO would block start-up forever, a directory is a mistake.
        if path.exists() and not path.is_file():
            raise ConfigError(f"config file {path} is not a regular file")
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"config file {path} is larger than {MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start})") from exc
    return parse_config(text, source=str(path), base_dir=path.resolve().parent, env=env)


def parse_config(
    text: str,
    *,
    source: str = "<string>",
    base_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> DriftdConfig:
    """Validate config text; relative paths in it are resolved against ``base_dir``."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys to values")
    problems: list[str] = []
    expanded = _expand_env(raw, os.environ if env is None else env, (), problems)
    if problems:
        raise ConfigError(f"{source}: {len(problems)} error(s)", problems)
    context = {"base_dir": base_dir or Path.cwd()}
    try:
        return DriftdConfig.model_validate(expanded, context=context)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if not err["loc"] and err["type"] == "value_error":
                # The cross-section (graph) check reports one problem per line, each
                # already named by its key path.
                problems.extend(str(err["ctx"]["error"]).splitlines())
            else:
                problems.append(_describe(err, expanded))
        raise ConfigError(f"{source}: {len(problems)} error(s)", problems) from None


def _expand_env(node: Any, env: Any, path: tuple[Any, ...], problems: list[str]) -> Any:
    # Expansion runs on parsed scalars, not on the raw text, so a secret containing YAML
    # syntax cannot change the structure of the file.
    if isinstance(node, dict):
        return {k: _expand_env(v, env, (*path, k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(v, env, (*path, i), problems) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return str(env[name])
            if default is not None:
                return default
            problems.append(
                f"{_format_path(path)}: environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)"
            )
            return ""

        return _ENV.sub(substitute, node)
    return node


_SECRET_WORDS = ("password", "token", "secret", "key", "webhook_url", "url")


def _secret(loc: tuple[Any, ...]) -> bool:
    """Whether the value at ``loc`` may be a secret: its error names the key, never the value."""
    name = str(loc[-1]).lower() if loc else ""
    return any(word in name for word in _SECRET_WORDS) and not name.endswith("_file")


def _describe(err: Any, raw: Any) -> str:
    loc = _real_path(err["loc"], raw)
    key = _format_path(loc) or "(top level)"
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if err["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
        known = _known_keys(err, loc, raw)
        if known:
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            if close and close[0] == str(loc[-1]):
                # The vocabulary is global: the key exists, in another section.
                message += " here (that key belongs in another section)"
            elif close:
                message += f" (did you mean {close[0]!r}?)"
    elif err["type"] == "missing":
        message = "required key is missing"
    elif (
        "input" in err
        and err["type"] not in {"model_type", "dict_type", "list_type"}
        and not _secret(loc)
    ):
        shown = repr(err["input"])
        if len(shown) <= 60 and not isinstance(err["input"], dict | list):
            message += f" (got {shown})"
    return f"{key}: {message}"


def _known_keys(err: Any, loc: tuple[Any, ...], raw: Any) -> list[str]:
    # A global vocabulary is enough for "did you mean": typos are near their intended key.
    from driftd.config.models import all_keys

    return all_keys()


def _real_path(loc: tuple[Any, ...], raw: Any) -> tuple[Any, ...]:
    """Drop the parts of a pydantic location that are not keys of the input (union tags)."""
    out: list[Any] = []
    node = raw
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part not in node:
            # Either a union tag (skip it) or the missing/unknown key itself (keep it last).
            if part == loc[-1]:
                out.append(part)
        else:
            continue
    return tuple(out)


def _format_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
