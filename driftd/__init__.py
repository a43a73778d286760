"""driftd: streaming drift detection and alerting for ML models on Kafka."""

__version__ = "0.1.0"
