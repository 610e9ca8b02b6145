"""Settings: defaults under var/, generated secret in development, refusal in production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from iplus.config import Settings
from iplus.core.errors import ConfigurationError


def test_defaults_live_under_var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPLUS_VAR_DIR", str(tmp_path / "v"))
    s = Settings()
    assert s.metadata_url == f"sqlite+aiosqlite:///{tmp_path / 'v' / 'iplus.db'}"
    assert s.telemetry_store_url == f"duckdb:///{tmp_path / 'v' / 'telemetry.duckdb'}"
    assert s.broker_url == "embedded://127.0.0.1:1883"
    assert s.compute_url == "local://"
    assert (s.host, s.port) == ("127.0.0.1", 8000)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPLUS_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    monkeypatch.setenv("IPLUS_PORT", "9001")
    monkeypatch.setenv("IPLUS_BROKER_URL", "mqtt://127.0.0.1:1883")
    s = Settings()
    assert s.metadata_url == "postgresql://postgres@127.0.0.1/test"
    assert s.port == 9001 and s.broker_url.startswith("mqtt://")


def test_development_generates_a_private_secret_once(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path)
    first = s.resolve_secret_key()
    assert len(first) >= 32
    assert Settings(var_dir=tmp_path).resolve_secret_key() == first
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600


def test_production_refuses_without_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="IPLUS_SECRET_KEY is not set"):
        Settings(var_dir=tmp_path, env="production").resolve_secret_key()
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(ConfigurationError, match="at least 32"):
        Settings(var_dir=tmp_path, env="production", secret_key="short").resolve_secret_key()
    good = "k" * 48
    assert Settings(var_dir=tmp_path, env="production", secret_key=good).resolve_secret_key() == good


def test_settings_are_not_built_at_import() -> None:
    import iplus.app
    import iplus.config

    assert not any(isinstance(v, Settings) for v in vars(iplus.config).values())
    assert not any(isinstance(v, Settings) for v in vars(iplus.app).values())
