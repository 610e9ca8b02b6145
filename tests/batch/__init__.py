"""Tests of the batch engine: analytics SQL, jobs, schedules and exports."""
