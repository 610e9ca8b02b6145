"""AI engine: forecasting and anomaly models trained on data handed in, and online detectors for streams."""
