"""Core vocabulary shared by every layer: ids, clock, errors, roles; stdlib and pydantic only."""
