"""Batch engine: tenant analytics SQL over the telemetry store, exports, cron schedules."""
