"""Compute backends for batch jobs, training and simulation sweeps."""
