"""Knowledge, model and algorithm management: find, version and invoke what the platform knows."""
