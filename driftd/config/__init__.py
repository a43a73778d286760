"""Config: YAML into validated, frozen models (see configs/full.yaml for every key)."""

from driftd.config.loader import load_config, parse_config
from driftd.config.models import (
    AdaptiveThreshold,
    CalibratedThreshold,
    CountWindow,
    DriftdConfig,
    FieldMapping,
    KafkaConfig,
    MonitorConfig,
    StaticThreshold,
    StreamConfig,
    TumblingWindow,
)
from driftd.scalars import parse_duration

__all__ = [
    "AdaptiveThreshold",
    "CalibratedThreshold",
    "CountWindow",
    "DriftdConfig",
    "FieldMapping",
    "KafkaConfig",
    "MonitorConfig",
    "StaticThreshold",
    "StreamConfig",
    "TumblingWindow",
    "load_config",
    "parse_config",
    "parse_duration",
]
