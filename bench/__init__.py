"""Benchmarks: each prints the platform's figure beside a raw baseline measured in the same run."""
