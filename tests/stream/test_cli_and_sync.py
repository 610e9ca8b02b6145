"""``iplus rule`` / ``iplus alarm`` commands, and rules changed by another process reaching the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.cli.devices import acting_for
from iplus.cli.main import build_cli
from iplus.engines.stream.actions import ActionRunner
from iplus.engines.stream.engine import StreamEngine
from iplus.infra.bus import EventBus
from iplus.infra.telemetry import Message
from iplus.platform.rules import RuleService
from tests.access.conftest import Platform
from tests.stream.test_api import HOT_YAML, alarms, push

runner = CliRunner()
GOOD = HOT_YAML + "\n"
BAD = """
- {name: a, kind: threshold, key: temp, op: '>', value: x}
- {name: b, kind: window, key: temp, window: tumbling, size_s: -1, aggregate: avg, op: '>', value: 1}
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"IPLUS_VAR_DIR": str(tmp_path / "var")}


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_cli(build_context, build_asgi), list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_rule_and_alarm_commands(env: dict[str, str], tmp_path: Path) -> None:
    good, bad = tmp_path / "hot.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(BAD)
    code, out, _ = invoke(env, "rule", "validate", str(good))
    assert code == 0 and "valid (1 rules)" in out
    code, _, err = invoke(env, "rule", "validate", str(bad))
    assert code == 1
    assert (
        "[0].value: Input should be a valid number" in err
        and "[1].size_s: Input should be greater than 0" in err
    )
    assert invoke(env, "org", "create", "Farm", "--role", "user")[0] == 0
    code, out, _ = invoke(env, "rule", "apply", str(good), "--org", "Farm")
    assert code == 0 and "created hot version 1" in out
    code, out, _ = invoke(env, "rule", "apply", str(good), "--org", "Farm")
    assert code == 0 and "unchanged hot version 1" in out
    code, _, err = invoke(env, "rule", "apply", str(bad), "--org", "Farm")
    assert code == 1 and err.startswith("error: [0].value") and len(err.strip().splitlines()) == 1
    code, out, _ = invoke(env, "rule", "list", "--org", "Farm")
    assert code == 0 and "hot" in out and "threshold" in out
    code, out, err = invoke(env, "alarm", "list", "--org", "Farm", "--status", "active")
    assert code == 0 and "0 of 0 alarms" in err
    code, _, err = invoke(env, "alarm", "list", "--org", "Farm", "--status", "open")
    assert code == 1 and "--status must be" in err
    code, _, err = invoke(env, "alarm", "ack", "nope", "--org", "Farm")
    assert code == 1 and "alarm nope not found" in err


async def test_rule_stored_by_another_process_runs_without_restart(platform: Platform) -> None:
    p, a = platform, platform.a
    token = await p.device(a, "room-1")
    # a second service on the same store stands for the CLI or another worker
    other = RuleService(p.ctx.db, EventBus(), StreamEngine(), ActionRunner())
    caller = await acting_for(p.ctx, "Org A")
    await other.apply(caller, HOT_YAML, "application/yaml")
    assert await p.ctx.rules.sync() == [a.org_id]
    await push(p, "room-1", token, 35, "2026-01-01T00:00:00Z")
    assert (await alarms(p.client, a, status="active"))["total"] == 1
    assert await p.ctx.rules.sync() == []  # nothing changed since


async def test_after_a_restart_hysteresis_continues_from_the_stored_alarm(platform: Platform) -> None:
    p, a = platform, platform.a
    token = await p.device(a, "room-1")
    caller = await acting_for(p.ctx, "Org A")
    await p.ctx.rules.apply(caller, HOT_YAML, "application/yaml")
    await push(p, "room-1", token, 35, "2026-01-01T00:00:00Z")
    [alarm] = (await alarms(p.client, a, status="active"))["items"]
    # a fresh service and engine on the same store stand for the restarted platform
    restarted = RuleService(p.ctx.db, EventBus(), StreamEngine(), ActionRunner())
    await restarted.start([])
    try:
        restarted.on_messages([Message(a.org_id, "room", "room-1", None, [("temp", 2 * 10**15, 29.0)])])
        restarted.on_messages([Message(a.org_id, "room", "room-1", None, [("temp", 2 * 10**15 + 1, 27.0)])])
        await restarted.drain()
    finally:
        await restarted.stop()
    cleared = (await p.client.get(f"/api/v1/alarms/{alarm['id']}", headers=a.auth)).json()
    assert cleared["status"] == "cleared" and cleared["value"] == 27.0


async def test_a_new_devices_first_reading_meets_the_rules_that_select_its_type(platform: Platform) -> None:
    p, a = platform, platform.a
    caller = await acting_for(p.ctx, "Org A")
    await p.ctx.rules.apply(
        caller, HOT_YAML.replace("key: temp", "key: temp\nwhere: {type: room}"), "application/yaml"
    )
    await push(p, "room-0", await p.device(a, "room-0"), 20, "2026-01-01T00:00:00Z")  # the directory is read
    # created after the engine read the directory: its very first reading is hot
    token = await p.device(a, "room-9")
    await push(p, "room-9", token, 35, "2026-01-01T00:00:01Z")
    [alarm] = (await alarms(p.client, a, status="active"))["items"]
    assert alarm["subject"] == "room-9" and alarm["value"] == 35.0
