"""The edge agent's TOML configuration, read with tomllib into pydantic models."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from iplus.core.errors import ConfigurationError

DEFAULT_TOPIC = "iplus/v1/devices/+/telemetry"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Aggregate(StrEnum):
    """How a tumbling window folds its values into one."""

    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT = "count"
    LAST = "last"


class Op(StrEnum):
    """The comparison that raises a threshold alarm."""

    GT = ">"
    LT = "<"
    GE = ">="
    LE = "<="


class WindowConfig(_Model):
    """A tumbling window aligned to the epoch: ``seconds`` long, folded by ``aggregate``."""

    seconds: float = Field(gt=0)
    aggregate: Aggregate = Aggregate.AVG


class PropertyConfig(_Model):
    """Edge processing of one property: window first, then deadband on what the window yields."""

    deadband: float | None = Field(default=None, ge=0)
    window: WindowConfig | None = None


class AlarmPublish(_Model):
    """A local MQTT command published when the alarm raises or clears."""

    topic: str = Field(min_length=1)
    on_raise: dict[str, Any] | None = None
    on_clear: dict[str, Any] | None = None
    qos: Literal[0, 1] = 1

    @field_validator("topic")
    @classmethod
    def _no_wildcards(cls, topic: str) -> str:
        if "+" in topic or "#" in topic:
            raise ValueError("a publish topic cannot hold the wildcards + or #")
        return topic


class AlarmConfig(_Model):
    """A local threshold alarm with hysteresis: raise on ``property op threshold``, clear past the band."""

    name: str = Field(pattern=_NAME)
    property: str = Field(min_length=1)
    op: Op
    threshold: float
    hysteresis: float = Field(default=0.0, ge=0)
    log: bool = True
    publish: AlarmPublish | None = None


class DeviceConfig(_Model):
    """A device behind the gateway and how its properties are processed."""

    id: str = Field(pattern=_NAME)
    properties: dict[str, PropertyConfig] = Field(default_factory=dict)
    alarms: list[AlarmConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_alarms(self) -> DeviceConfig:
        names = [a.name for a in self.alarms]
        if len(names) != len(set(names)):
            raise ValueError(f"device {self.id}: alarm names must be unique")
        return self


class GatewayConfig(_Model):
    """Who this gateway is; its id prefixes every message id it sends."""

    id: str = Field(pattern=_NAME)
    window_grace_s: float = Field(default=2.0, ge=0)


class PlatformConfig(_Model):
    """Where the platform is and the API key to present (given, or read from an environment variable)."""

    base_url: str
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _one_key_source(self) -> PlatformConfig:
        if (self.api_key is None) == (self.api_key_env is None):
            raise ValueError("give exactly one of api_key and api_key_env")
        return self

    def resolve_api_key(self) -> str:
        """The API key, read from the environment when ``api_key_env`` names it."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        value = os.environ.get(self.api_key_env or "", "")
        if not value:
            raise ConfigurationError(f"environment variable {self.api_key_env} (the API key) is not set")
        return value


class BufferConfig(_Model):
    """The on-disk queue: a SQLite file; ``full`` sync survives power loss, ``normal`` only crashes."""

    path: Path
    synchronous: Literal["full", "normal"] = "full"
    dedupe_window_s: float = Field(default=3600.0, gt=0)


class ForwardConfig(_Model):
    """How queued messages go up: batch size and the retry back-off."""

    batch_size: int = Field(default=500, ge=1, le=10_000)
    backoff_initial_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    backoff_factor: float = Field(default=2.0, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ForwardConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must not be below backoff_initial_s")
        return self


class MqttBrokerConfig(_Model):
    """The local MQTT broker, used by the MQTT source and by alarm commands."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None


class MqttSourceConfig(_Model):
    """Readings from the local broker; the one ``+`` in ``topic`` is the device id."""

    enabled: bool = True
    topic: str = DEFAULT_TOPIC
    qos: Literal[0, 1] = 1
    persistent_session: bool = True

    @field_validator("topic")
    @classmethod
    def _one_plus(cls, topic: str) -> str:
        levels = topic.split("/")
        if levels.count("+") != 1 or "#" in topic or any("+" in lv and lv != "+" for lv in levels):
            raise ValueError("topic must hold exactly one + level (the device id) and no #")
        return topic

    @property
    def device_level(self) -> int:
        """Index of the topic level that names the device."""
        return self.topic.split("/").index("+")


class HttpSourceConfig(_Model):
    """A local HTTP server taking POST /telemetry/{device_id}; loopback only, as it has no auth."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    @field_validator("host")
    @classmethod
    def _loopback(cls, host: str) -> str:
        if host == "localhost":
            return host
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError("the HTTP input has no authentication: it listens on loopback addresses only")
        return host


class SignalConfig(_Model):
    """One generated property: offset + amplitude * sin(2 pi t / period) + gaussian noise."""

    device: str = Field(pattern=_NAME)
    property: str = Field(min_length=1)
    offset: float = 0.0
    amplitude: float = 1.0
    period_s: float = Field(default=60.0, gt=0)
    noise: float = Field(default=0.0, ge=0)


class GeneratorConfig(_Model):
    """A tiny deterministic demo source; ``count`` ends it, ``step_s`` is signal time per tick."""

    enabled: bool = True
    seed: int = 0
    interval_s: float = Field(default=1.0, ge=0)
    step_s: float = Field(default=1.0, gt=0)
    count: int | None = Field(default=None, ge=1)
    signals: list[SignalConfig] = Field(min_length=1)


class SourcesConfig(_Model):
    """Where readings come from; a section that is absent is off."""

    mqtt: MqttSourceConfig | None = None
    http: HttpSourceConfig | None = None
    generator: GeneratorConfig | None = None


class EdgeConfig(_Model):
    """The whole configuration of one edge agent."""

    gateway: GatewayConfig
    platform: PlatformConfig
    buffer: BufferConfig
    forward: ForwardConfig = ForwardConfig()
    mqtt: MqttBrokerConfig = MqttBrokerConfig()
    sources: SourcesConfig = SourcesConfig()
    devices: list[DeviceConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_devices(self) -> EdgeConfig:
        ids = [d.id for d in self.devices]
        if len(ids) != len(set(ids)):
            raise ValueError("device ids must be unique")
        return self


def _one_line(where: str, exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {loc}: {first.get('msg', 'invalid')}{more}"


def parse_config(data: dict[str, Any], base_dir: Path | None = None, where: str = "config") -> EdgeConfig:
    """Validate a decoded TOML document; a relative buffer path is taken from ``base_dir``."""
    try:
        config = EdgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(_one_line(where, exc)) from None
    if base_dir is not None and not config.buffer.path.is_absolute():
        buffer = config.buffer.model_copy(update={"path": base_dir / config.buffer.path})
        config = config.model_copy(update={"buffer": buffer})
    config.platform.resolve_api_key()  # fail at start, not at the first forward
    return config


def load_config(path: Path) -> EdgeConfig:
    """Read and validate the TOML file at ``path``; every problem is one ConfigurationError line."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(data, path.resolve().parent, str(path))
