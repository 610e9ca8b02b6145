"""Telemetry store adapters: DuckDB (embedded default)."""
