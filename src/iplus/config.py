"""Settings read from the environment (prefix ``IPLUS_``); build them with ``Settings()``, never at import."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from iplus.core.errors import ConfigurationError

_MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Everything an operator can set; defaults give a working embedded platform under ``./var``."""

    model_config = SettingsConfigDict(env_prefix="IPLUS_", env_file=None, extra="ignore")

    env: Literal["development", "production"] = "development"
    var_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="metadata store; default sqlite+aiosqlite:///<var_dir>/iplus.db"
    )
    telemetry_url: str | None = Field(
        default=None, description="telemetry store; default duckdb:///<var_dir>/telemetry.duckdb"
    )
    broker_url: str = Field(
        default="embedded://127.0.0.1:1883",
        description="embedded://host:port starts amqtt in-process; mqtt://host:port uses an external broker",
    )
    broker_dynsec: bool = Field(
        default=False,
        description="with an mqtt:// broker: keep Mosquitto's dynamic-security clients in step with devices",
    )
    compute_url: str = Field(
        default="local://", description="local://[?workers=N], dask://host:port or dask+local://[?workers=N]"
    )
    webhook_allow: str = Field(
        default="public",
        description="where rule webhooks may connect: comma-separated 'public', networks (CIDR), host names",
    )
    run_check_seconds: float = Field(
        default=30.0, gt=0, description="how often running service systems are checked against their SLAs"
    )
    run_sla_slack: float = Field(
        default=0.5, ge=0, description="a task is late past its promised time x (1 + this slack)"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    secret_key: SecretStr | None = None
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    admin_email: str = "admin@iplus.local"
    admin_password: SecretStr | None = None

    @field_validator("var_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def metadata_url(self) -> str:
        """The metadata store URL, defaulting to a SQLite file under ``var_dir``."""
        return self.database_url or f"sqlite+aiosqlite:///{self.var_dir / 'iplus.db'}"

    @property
    def telemetry_store_url(self) -> str:
        """The telemetry store URL, defaulting to a DuckDB file under ``var_dir``."""
        return self.telemetry_url or f"duckdb:///{self.var_dir / 'telemetry.duckdb'}"

    def resolve_secret_key(self) -> str:
        """Return the signing secret: the configured one, or in development one kept in ``var_dir``."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if len(value) < _MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    f"IPLUS_SECRET_KEY must be at least {_MIN_SECRET_LENGTH} characters long"
                )
            return value
        if self.env == "production":
            raise ConfigurationError(
                "IPLUS_SECRET_KEY is not set: production mode refuses to start without one "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        path = self.var_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        # create with 0600 from the start so the secret is never world-readable
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return value
