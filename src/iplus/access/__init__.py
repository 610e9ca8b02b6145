"""Perception and access layer: device registry, ingest over MQTT and HTTP, commands, edge agent."""
