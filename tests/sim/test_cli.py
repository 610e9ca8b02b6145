"""``iplus simulate`` through typer: stdout transport, device CSV with types, MQTT, one-line errors."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import typer
from typer.testing import CliRunner

from iplus.cli.simulate import register

runner = CliRunner()


def app() -> typer.Typer:
    cli = typer.Typer()

    @cli.callback()
    def root() -> None:
        """iplus."""

    register(cli)
    return cli


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app(), ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_stdout_transport_prints_one_json_line_per_message() -> None:
    code, out, err = invoke(
        "-d", "3", "-p", "room", "-t", "stdout", "--count", "6", "--rate", "500", "--seed", "1"
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 6  # room drops 1 % by design: none of these six with this seed
    assert [line["device_id"] for line in lines] == ["sim-0001", "sim-0002", "sim-0003"] * 2
    assert {"temperature", "humidity", "door", "ts", "msg_id"} <= set(lines[0]["payload"])
    assert "sent" in err and "achieved msg/s" in err


def test_device_csv_with_types_and_profiles_per_type(tmp_path: Path) -> None:
    csv_file = tmp_path / "creds.csv"
    csv_file.write_text("device_id,token,type\nws-1,t1,station\nflow-1,t2,meter\n")
    code, out, err = invoke(
        "-d", str(csv_file), "-p", "station=weather", "-p", "meter=water-flow", "-t", "stdout", "--format", "senml",
        "--count", "4", "--rate", "1000", "--timestamps", "original",
    )  # fmt: skip
    assert code == 0, err
    packs: dict[str, list[list[dict[str, object]]]] = {"ws-1": [], "flow-1": []}
    for line in out.splitlines():
        packs[json.loads(line)["device_id"]].append(json.loads(line)["payload"])
    # TMY3's first rows are 01:00 and 02:00 local standard time (UTC-5) on 1988-01-01
    assert [p[0]["bt"] for p in packs["ws-1"]] == [567_993_600.0 + 6 * 3600, 567_993_600.0 + 7 * 3600]
    assert packs["ws-1"][0][0]["bn"] == "ws-1:" and {r["n"] for r in packs["ws-1"][0]} >= {"ghi", "temp_air"}
    assert [[r["n"] for r in p] for p in packs["flow-1"]] == [["flow"], ["flow"]]
    assert [p[0]["v"] for p in packs["flow-1"]] == [100.59, 100.89] and packs["flow-1"][0][0]["u"] == "l/s"


def test_mqtt_through_the_cli() -> None:
    prefix = f"cli{uuid.uuid4().hex[:6]}-"
    code, out, err = invoke(
        "-d", "4", "--prefix", prefix, "-p", "water-flow", "--count", "40", "--rate", "200"
    )
    assert code == 0, err
    assert "40" in out and "achieved msg/s" in out


def test_list_profiles() -> None:
    code, out, _ = invoke("--list-profiles")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["room", "water-flow", "weather"]


def test_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    code, _, err = invoke("-p", "nope", "-t", "stdout", "--count", "1")
    assert code == 1 and err.startswith("error: profile nope") and len(err.strip().splitlines()) == 1
    code, _, err = invoke("-d", str(tmp_path / "missing.csv"), "-t", "stdout")
    assert code == 1 and "cannot read devices" in err
    code, _, err = invoke("-t", "http-batch", "--count", "1")
    assert code == 1 and "API key" in err
    code, _, err = invoke("--speed", "fast", "-t", "stdout")
    assert code == 1 and "--speed" in err


def test_nothing_sent_exits_1() -> None:
    code, out, _ = invoke("-d", "1", "--broker", "mqtt://127.0.0.1:1", "--count", "2", "--rate", "100", "-q")
    assert code == 1 and "mqtt connect" in out
