"""A real ``iplus up`` process on loopback, shared by the end-to-end tests of one module."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

IPLUS = Path(sys.executable).parent / "iplus"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class Running:
    """A started platform: its address, the printed lines and first logins."""

    base_url: str
    lines: list[str]
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def port_1883_taken() -> Iterator[bool]:
    """Make sure something holds port 1883 (Mosquitto normally does), as on a machine with a broker."""
    holder = None
    with socket.socket() as probe:
        taken = probe.connect_ex(("127.0.0.1", 1883)) == 0
    if not taken:
        holder = socket.socket()
        holder.bind(("127.0.0.1", 1883))
        holder.listen()
    yield True
    if holder is not None:
        holder.close()


@pytest.fixture(scope="module")
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, port_1883_taken: bool
) -> Iterator[Running]:
    """``iplus up --demo`` with embedded defaults in a fresh folder."""
    var = tmp_path_factory.mktemp("var")
    port = _free_port()
    env = {**os.environ, "IPLUS_VAR_DIR": str(var), "IPLUS_PORT": str(port)}
    env.pop("IPLUS_DATABASE_URL", None)
    # output goes to a file: an undrained pipe would block the server once it fills up
    log_path = var / "iplus-up.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [str(IPLUS), "up", "--demo"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        lines = log_path.read_text().splitlines()
        if any("press Ctrl+C to stop" in line for line in lines):
            break
        time.sleep(0.1)
    if proc.poll() is not None or not any("press Ctrl+C" in line for line in lines):
        proc.kill()
        pytest.fail("iplus up did not start:\n" + log_path.read_text())
    running = Running(f"http://127.0.0.1:{port}", lines)
    for line in lines:
        m = re.match(r"^\s+(operator|provider|user)\s+(\S+)\s+(\S+)$", line)
        if m:
            running.logins[m.group(1)] = (m.group(2), m.group(3))
    for _ in range(50):
        try:
            if httpx.get(f"{running.base_url}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield running
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.copy(log_path, ARTIFACTS / f"iplus-up-{request.module.__name__.rsplit('.', 1)[-1]}.log")
