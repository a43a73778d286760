"""Building blocks of the alerting config models: durations, names, matcher and template
checks, and ``*_file`` secrets."""

from __future__ import annotations

from pathlib import Path
from string import Formatter
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo

from driftd.alerting.matchers import parse_matchers
from driftd.scalars import Duration, Name, PositiveDuration, read_secret_file

__all__ = [
    "Duration",
    "LabelName",
    "Model",
    "Name",
    "PositiveDuration",
    "check_matchers",
    "check_templates",
    "load_secrets",
]


LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]

# Fields a rule's annotation templates may use besides the alert's labels.
TEMPLATE_FIELDS = frozenset(
    {"value", "limit", "pvalue", "kind", "detail", "window", "window_index", "window_size"}
    | {"window_start", "window_end"}
)


class Model(BaseModel):
    """Base of the alerting config models: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def check_matchers(value: list[str]) -> list[str]:
    """Field validator: every entry parses as a matcher."""
    parse_matchers(value)
    return value


def check_templates(value: dict[str, str]) -> dict[str, str]:
    """Field validator: annotation templates use only plain ``{name}`` placeholders."""
    for key, template in value.items():
        try:
            fields = [f for _, f, _, _ in Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise ValueError(f"annotation {key!r}: bad template {template!r}: {exc}") from None
        for name in fields:
            # Attribute and index access would let a template reach into Python objects.
            if not name.isidentifier():
                raise ValueError(
                    f"annotation {key!r}: {{{name}}} must name a label or one of "
                    f"{sorted(TEMPLATE_FIELDS)}"
                )
    return value


def load_secrets(model: BaseModel, info: ValidationInfo, *names: str) -> None:
    """Fill ``name`` from ``name_file`` (frozen models: set once, during validation)."""
    for name in names:
        inline, path = getattr(model, name), getattr(model, f"{name}_file")
        if inline is not None and path is not None:
            raise ValueError(f"give {name} or {name}_file, not both")
        if path is None:
            continue
        base = (info.context or {}).get("base_dir")
        secret = read_secret_file(path, f"{name}_file", Path(base) if base else None)
        object.__setattr__(model, name, secret)
