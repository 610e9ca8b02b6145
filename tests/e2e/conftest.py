"""A real ``iplus up`` process on loopback, shared by the end-to-end tests of one module."""

from __future__ import annotations

import os
import re
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
def platform(tmp_path_factory: pytest.TempPathFactory, port_1883_taken: bool) -> Iterator[Running]:
    """``iplus up --demo`` with embedded defaults in a fresh folder."""
    var = tmp_path_factory.mktemp("var")
    port = _free_port()
    env = {**os.environ, "IPLUS_VAR_DIR": str(var), "IPLUS_PORT": str(port)}
    env.pop("IPLUS_DATABASE_URL", None)
    proc = subprocess.Popen(
        [str(IPLUS), "up", "--demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "press Ctrl+C to stop" in line:
            break
    else:
        proc.kill()
    if proc.poll() is not None or not lines or "press Ctrl+C" not in lines[-1]:
        proc.kill()
        pytest.fail("iplus up did not start:\n" + "\n".join(lines))
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
