"""Where events come from: Kafka in production, files for replay and the demo."""
