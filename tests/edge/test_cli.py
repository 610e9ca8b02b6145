"""``iplus edge``: registered on the platform's typer app, one-line errors, --until-done and --drain."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from iplus.cli.edge import register
from tests.edge.platform_server import API_KEY, PlatformServer

runner = CliRunner()


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """The platform's app, as main.py builds it."""

    register(app)
    return app


def write_config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        f"""
[gateway]
id = "gw-cli"
[platform]
base_url = "{base_url}"
api_key = "{API_KEY}"
[buffer]
path = "buffer.db"
[forward]
backoff_initial_s = 0.05
backoff_max_s = 0.2
{extra}
"""
    )
    return path


def test_config_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    result = runner.invoke(cli(), ["edge", "--config", str(tmp_path / "absent.toml")])
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("absent.toml: no such configuration file")
    assert len(result.stderr.strip().splitlines()) == 1
    bad = write_config(tmp_path, "http://127.0.0.1:1", "[sources.http]\nhost = '10.0.0.1'\n")
    result = runner.invoke(cli(), ["edge", "--config", str(bad)])
    assert result.exit_code == 1 and "sources.http.host" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_until_done_runs_a_finite_generator_and_exits_once_all_is_forwarded(
    tmp_path: Path, platform: PlatformServer
) -> None:
    path = write_config(
        tmp_path,
        platform.base_url,
        """
[sources.generator]
interval_s = 0
count = 25
signals = [{ device = "g", property = "x" }]
""",
    )
    result = runner.invoke(cli(), ["edge", "--config", str(path), "--until-done", "--status-every", "0"])
    assert result.exit_code == 0, result.stderr
    assert platform.count == 25
    assert "edge gw-cli: queued 0 | forwarded 25" in result.stdout.splitlines()[-1]


def test_drain_with_the_uplink_down_gives_up_after_the_duration(
    tmp_path: Path, platform: PlatformServer
) -> None:
    path = write_config(
        tmp_path,
        platform.base_url,
        "[sources.generator]\ninterval_s = 0\ncount = 10\nsignals = [{ device = 'g', property = 'x' }]\n",
    )
    platform.stop()
    result = runner.invoke(
        cli(), ["edge", "-c", str(path), "--until-done", "--duration", "1", "--status-every", "0"]
    )
    assert result.exit_code == 1 and "10 message(s) still queued" in result.stderr
    platform.start()
    result = runner.invoke(cli(), ["edge", "-c", str(path), "--drain", "--status-every", "0"])
    assert result.exit_code == 0 and platform.count == 10  # --drain starts no sources


def test_a_buffer_of_another_gateway_is_refused_in_one_line(tmp_path: Path, platform: PlatformServer) -> None:
    path = write_config(tmp_path, platform.base_url)
    assert runner.invoke(cli(), ["edge", "-c", str(path), "--drain", "--status-every", "0"]).exit_code == 0
    path.write_text(path.read_text().replace('id = "gw-cli"', 'id = "gw-other"'))
    result = runner.invoke(cli(), ["edge", "-c", str(path), "--drain", "--status-every", "0"])
    assert result.exit_code == 1 and "belongs to gateway 'gw-cli'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
