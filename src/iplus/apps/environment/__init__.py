"""Environment domain: air quality indices (HJ 633, US EPA) and surface-water quality classes (GB 3838)."""
