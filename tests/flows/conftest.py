"""Cross-engine flows run on the started platform of the access tests."""

from tests.access.conftest import platform  # noqa: F401
