"""A domain's scenario module whose code fails at import (used by test_register.py)."""

raise RuntimeError("a module that cannot be imported")
