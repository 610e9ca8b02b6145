"""iplus: an Internet Plus platform that turns devices, resources and capabilities into services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iplus")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"
