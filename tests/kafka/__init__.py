"""A real Apache Kafka broker for the integration tests."""
