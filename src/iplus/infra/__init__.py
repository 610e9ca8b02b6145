"""Infrastructure adapters: metadata store, telemetry store, message broker and compute backends."""
