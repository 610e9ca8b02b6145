"""The iplus command line: version, migrate, org and user commands, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from iplus import __version__
from iplus.app import build_asgi, build_context
from iplus.cli.main import build_cli
from iplus.infra.db.migrate import head_revision

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"IPLUS_VAR_DIR": str(tmp_path / "var")}


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_cli(build_context, build_asgi), list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_version(cli_env: dict[str, str]) -> None:
    code, out, _ = invoke(cli_env, "--version")
    assert code == 0 and out.strip() == f"iplus {__version__}"


def test_migrate_then_org_and_user_commands(cli_env: dict[str, str]) -> None:
    head = head_revision()
    code, out, _ = invoke(cli_env, "migrate")
    assert code == 0 and f"empty -> {head}" in out
    code, out, _ = invoke(cli_env, "migrate")
    assert code == 0 and f"{head} -> {head}" in out
    code, out, _ = invoke(cli_env, "org", "create", "Green Farm", "--role", "provider", "-r", "user")
    assert code == 0 and "roles=provider,user" in out
    code, out, _ = invoke(
        cli_env,
        "user",
        "create",
        "--org",
        "Green Farm",
        "--email",
        "Li@Farm.io",
        "--name",
        "Li",
        "--password",
        "long-enough-pw",
        "--admin",
    )
    assert code == 0 and "li@farm.io" in out and "administrator" in out
    code, out, _ = invoke(cli_env, "user", "list", "--org", "Green Farm")
    assert code == 0 and "li@farm.io" in out
    code, out, _ = invoke(cli_env, "org", "list")
    assert code == 0 and "Green Farm" in out


def test_errors_are_one_line(cli_env: dict[str, str]) -> None:
    code, _, err = invoke(cli_env, "org", "create", "X", "--role", "admiral")
    assert code == 1
    assert err.strip() == "error: unknown role 'admiral': choose from operator, provider, user"
    invoke(cli_env, "org", "create", "X", "--role", "user")
    code, _, err = invoke(cli_env, "org", "create", "X", "--role", "user")
    assert code == 1 and err.strip() == "error: organisation 'X' already exists"
    code, _, err = invoke(
        cli_env,
        "user",
        "create",
        "--org",
        "Nope",
        "--email",
        "a@b.c",
        "--password",
        "long-enough-pw",
    )
    assert code == 1 and err.strip() == "error: organisation 'Nope' not found"
    code, _, err = invoke(cli_env, "user", "create", "--org", "X", "--email", "a@b.c", "--password", "short")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "at least 10" in err


def test_production_without_secret_refuses(cli_env: dict[str, str]) -> None:
    code, _, err = invoke({**cli_env, "IPLUS_ENV": "production"}, "migrate")
    assert code == 1 and err.startswith("error: IPLUS_SECRET_KEY is not set")


def test_up_refuses_a_taken_port(cli_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        code, _, err = invoke(cli_env, "up", "--port", str(port))
    assert code == 1 and f"port {port} on 127.0.0.1 is taken" in err


def test_first_operator_from_environment(tmp_path: Path) -> None:
    import asyncio

    from iplus.cli.serve import first_logins
    from iplus.config import Settings
    from iplus.infra.db.migrate import upgrade

    async def run() -> None:
        settings = Settings(
            var_dir=tmp_path, admin_email="ops@region.example", admin_password="chosen-password"
        )
        ctx = build_context(settings)
        try:
            await upgrade(ctx.db)
            logins = await first_logins(ctx, demo=False)
            assert logins == [("operator", "ops@region.example", "(from IPLUS_ADMIN_PASSWORD)")]
            principal = await ctx.accounts.authenticate("ops@region.example", "chosen-password")
            assert principal.is_admin and [r.value for r in principal.roles] == ["operator"]
            assert await first_logins(ctx, demo=True) == []  # only on an empty store
        finally:
            await ctx.stop()

    asyncio.run(run())


def test_bad_settings_and_unreachable_store_are_one_line(cli_env: dict[str, str]) -> None:
    code, _, err = invoke({**cli_env, "IPLUS_PORT": "abc"}, "org", "list")
    assert code == 1 and err.startswith("error: setting IPLUS_PORT") and len(err.strip().splitlines()) == 1
    code, _, err = invoke({**cli_env, "IPLUS_DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}, "org", "list")
    assert (
        code == 1 and err.startswith("error: cannot reach a backend") and len(err.strip().splitlines()) == 1
    )


def test_set_password(cli_env: dict[str, str]) -> None:
    invoke(cli_env, "org", "create", "X", "--role", "user")
    invoke(cli_env, "user", "create", "--org", "X", "--email", "a@x.io", "--password", "long-enough-pw")
    code, out, _ = invoke(
        cli_env, "user", "set-password", "--email", "A@x.io", "--password", "another-long-pw"
    )
    assert code == 0 and "password of a@x.io changed" in out
    code, _, err = invoke(
        cli_env, "user", "set-password", "--email", "nobody@x.io", "--password", "another-long-pw"
    )
    assert code == 1 and err.strip() == "error: user nobody@x.io not found"


def test_device_type_import_and_list(cli_env: dict[str, str], tmp_path: Path) -> None:
    import json

    from tests.access.conftest import ROOM_MODEL

    invoke(cli_env, "org", "create", "Farm", "--role", "provider")
    model = tmp_path / "room.json"
    model.write_text(json.dumps(ROOM_MODEL))
    code, out, err = invoke(
        cli_env, "device", "type-create", "--org", "Farm", "--name", "room", "--model", str(model)
    )
    assert code == 0, err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**ROOM_MODEL, "@type": "Thing"}))
    code, _, err = invoke(
        cli_env, "device", "type-create", "--org", "Farm", "--name", "bad", "--model", str(bad)
    )
    assert code == 1 and "tm:ThingModel" in err and len(err.strip().splitlines()) == 1
    devices = tmp_path / "devices.csv"
    devices.write_text("type,name,id,tags\n" + "".join(f"room,Room {i},r-{i},north\n" for i in range(50)))
    creds = tmp_path / "creds.csv"
    code, out, err = invoke(
        cli_env, "device", "import", "--org", "Farm", "--file", str(devices), "--credentials", str(creds)
    )
    assert code == 0 and "created 50 devices" in out, err
    lines = creds.read_text().splitlines()
    assert lines[0] == "device_id,token,type" and len(lines) == 51 and (creds.stat().st_mode & 0o777) == 0o600
    code, _, err = invoke(
        cli_env, "device", "import", "--org", "Farm", "--file", str(devices), "--credentials", str(creds)
    )
    assert code == 1 and "already exists" in err
    code, out, _ = invoke(cli_env, "device", "list", "--org", "Farm", "--tag", "north")
    assert code == 0 and "r-49" in out
