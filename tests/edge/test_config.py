"""The TOML configuration: the documented example loads; each mistake is one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from iplus.access.edge import load_config, parse_config
from iplus.access.edge.config import Aggregate, Op
from iplus.core.errors import ConfigurationError

EXAMPLE = Path(__file__).with_name("example.toml")


def base(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "gateway": {"id": "gw-1"},
        "platform": {"base_url": "http://127.0.0.1:8000", "api_key": "k"},
        "buffer": {"path": "/tmp/x.db"},
    }
    doc.update(changes)
    return doc


def test_the_documented_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPLUS_EDGE_API_KEY", "ipk_from_env")
    path = tmp_path / "edge.toml"
    shutil.copy(EXAMPLE, path)
    config = load_config(path)
    assert config.gateway.id == "gw-boiler-room"
    assert config.platform.resolve_api_key() == "ipk_from_env"
    assert config.buffer.path == tmp_path / "var" / "edge-buffer.db"  # relative to the file
    assert config.sources.mqtt is not None and config.sources.mqtt.device_level == 3
    assert config.sources.http is not None and config.sources.http.port == 8765
    assert config.sources.generator is not None and not config.sources.generator.enabled
    device = config.devices[0]
    assert device.properties["flow"].window is not None
    assert device.properties["flow"].window.aggregate is Aggregate.AVG
    alarm = device.alarms[0]
    assert (alarm.op, alarm.threshold, alarm.hysteresis) == (Op.GT, 90, 5)
    assert alarm.publish is not None and alarm.publish.on_raise == {"action": "burner_off"}


def test_minimal_config_has_defaults() -> None:
    config = parse_config(base())
    assert config.forward.batch_size == 500
    assert config.sources.mqtt is None and config.devices == []
    assert config.platform.base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "devices": [
                    {"id": "d", "alarms": [{"name": "a", "property": "t", "op": "=>", "threshold": 1}]}
                ]
            },
            "devices.0.alarms.0.op: Input should be '>', '<', '>=' or '<='",
        ),
        (
            {
                "devices": [
                    {"id": "d", "properties": {"t": {"window": {"seconds": 5, "aggregate": "median"}}}}
                ]
            },
            "devices.0.properties.t.window.aggregate: Input should be 'avg', 'min', 'max', 'sum', 'count' or 'last'",
        ),
        (
            {"devices": [{"id": "d", "properties": {"t": {"deadband": -1}}}]},
            "deadband: Input should be greater",
        ),
        (
            {"platform": {"base_url": "ftp://x", "api_key": "k"}},
            "platform.base_url: Value error, base_url must",
        ),
        ({"platform": {"base_url": "http://x"}}, "give exactly one of api_key and api_key_env"),
        ({"sources": {"http": {"host": "0.0.0.0"}}}, "listens on loopback addresses only"),
        ({"sources": {"mqtt": {"topic": "a/+/b/+"}}}, "exactly one + level"),
        ({"gateway": {"id": "gw 1"}}, "gateway.id: String should match pattern"),
        ({"forward": {"batch_size": 0}}, "forward.batch_size: Input should be greater than or equal to 1"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"devices": [{"id": "d"}, {"id": "d"}]}, "device ids must be unique"),
    ],
)
def test_mistakes_are_one_line(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_config(base(**changes), where="edge.toml")
    detail = info.value.detail
    assert "\n" not in detail and detail.startswith("edge.toml: ")
    assert message in detail


def test_missing_key_variable_missing_file_and_bad_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(ConfigurationError, match="environment variable NO_SUCH_KEY_VAR"):
        parse_config(base(platform={"base_url": "http://x", "api_key_env": "NO_SUCH_KEY_VAR"}))
    with pytest.raises(ConfigurationError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway\nid = 1\n")
    with pytest.raises(ConfigurationError, match="invalid TOML"):
        load_config(bad)
