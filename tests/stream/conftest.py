"""Stream tests reuse the started platform of the access tests (embedded broker, two tenants)."""

from tests.access.conftest import platform

__all__ = ["platform"]
