"""``iplus sim``: scenarios, a sweep run with stored results, listing, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.cli.main import build_cli
from iplus.cli.simulation import parse_params, parse_sweep

runner = CliRunner()


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_cli(build_context, build_asgi), list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_sim_commands(tmp_path: Path) -> None:
    env = {"IPLUS_VAR_DIR": str(tmp_path / "var"), "IPLUS_COMPUTE_URL": "local://?workers=2"}
    code, out, _ = invoke(env, "sim", "scenarios", "--json")
    assert code == 0 and {k["kind"] for k in json.loads(out)} >= {
        "ev_charging",
        "production_line",
        "environment.episode_control",  # a domain's kind, registered without starting the platform
    }
    code, out, _ = invoke(env, "sim", "scenarios")
    assert code == 0 and "arrival_rate" in out and "1/min" in out
    assert invoke(env, "org", "create", "Plant", "--role", "user")[0] == 0
    code, out, err = invoke(
        env,
        "sim",
        "run",
        "queueing_station",
        "--org",
        "Plant",
        "-p",
        "arrival_rate=1.2",
        "-p",
        "horizon=800",
        "-p",
        "warmup=20",
        "--sweep",
        "servers=2,3",
        "--replications",
        "2",
        "--seed",
        "4",
        "--json",
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["status"] == "succeeded" and [r["params"]["servers"] for r in body["results"]] == [2, 3]
    assert len(body["results"][0]["replications"]) == 2
    code, again, _ = invoke(
        env,
        "sim",
        "run",
        "queueing_station",
        "--org",
        "Plant",
        "-p",
        "arrival_rate=1.2",
        "-p",
        "horizon=800",
        "-p",
        "warmup=20",
        "--sweep",
        "servers=2,3",
        "--replications",
        "2",
        "--seed",
        "4",
        "--json",
    )
    assert json.loads(again)["results"] == body["results"]  # same seed, same numbers
    code, out, err = invoke(
        env, "sim", "run", "ev_charging", "--org", "Plant", "-p", "horizon=50", "-p", "warmup=1"
    )
    assert code == 0, err
    assert "utilisation" in out and "succeeded" in out
    code, out, _ = invoke(env, "sim", "list", "--org", "Plant")
    assert code == 0 and out.count("succeeded") == 3 and "ev_charging" in out
    code, shown, _ = invoke(env, "sim", "show", body["id"], "--org", "Plant", "--json")
    assert code == 0 and json.loads(shown)["results"] == body["results"]
    code, _, err = invoke(env, "sim", "show", "nope", "--org", "Plant")
    assert code == 1 and "simulation run nope not found" in err
    code, _, err = invoke(env, "sim", "run", "queueing_station", "--org", "Plant", "-p", "servers=0")
    assert code == 1 and err.strip().startswith("error: invalid parameters for scenario 'queueing_station'")
    assert "servers: must be >= 1" in err and len(err.strip().splitlines()) == 1
    code, _, err = invoke(env, "sim", "run", "queueing_station", "--org", "Plant", "-p", "servers")
    assert code == 1 and "write name=value" in err


def test_param_and_sweep_values_are_json() -> None:
    assert parse_params(["servers=3", "service_rates=[1, 1.5]", "x=abc"]) == {
        "servers": 3,
        "service_rates": [1, 1.5],
        "x": "abc",
    }
    assert parse_sweep(["servers=1,2", "buffer_capacities=[[1,1],[2,2]]"]) == {
        "servers": [1, 2],
        "buffer_capacities": [[1, 1], [2, 2]],
    }
    assert parse_sweep([]) is None
