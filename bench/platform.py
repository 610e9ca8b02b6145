"""Start a real ``iplus up`` in its own process for benchmarks, and set up a tenant through its API."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "bench-operator-password"


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def thing_model(keys: list[str]) -> dict[str, Any]:
    """A Thing Model with one number property per key."""
    return {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "@type": "tm:ThingModel",
        "title": "Bench sensor",
        "properties": {k: {"type": "number", "minimum": -1e9, "maximum": 1e12} for k in keys},
    }


@dataclass
class RunningPlatform:
    """A platform process, its base URL, the telemetry file and an API key with write scope."""

    proc: subprocess.Popen[bytes]
    base_url: str
    var: Path
    api_key: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """Ctrl+C, then wait."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start(extra_env: dict[str, str] | None = None) -> RunningPlatform:
    """``iplus up`` in a fresh folder; returns once it serves."""
    var = Path(tempfile.mkdtemp(prefix="iplus-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "IPLUS_VAR_DIR": str(var),
        "IPLUS_PORT": str(port),
        "IPLUS_ADMIN_PASSWORD": PASSWORD,
        **(extra_env or {}),
    }
    log = (var / "up.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "iplus"), "up"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "press Ctrl+C" in (var / "up.log").read_text():
            break
        if proc.poll() is not None:
            raise RuntimeError("iplus up failed:\n" + (var / "up.log").read_text())
        time.sleep(0.1)
    return RunningPlatform(proc, f"http://127.0.0.1:{port}", var)


def broker_port(platform: RunningPlatform) -> int:
    """The MQTT port the platform's broker line names."""
    match = re.search(r"mqtt://127\.0\.0\.1:(\d+)", (platform.var / "up.log").read_text())
    assert match
    return int(match.group(1))


def set_up_tenant(platform: RunningPlatform, devices: int, keys: list[str]) -> None:
    """A device type, ``devices`` devices (ids dev-0...), and a write API key, through the API."""
    with httpx.Client(base_url=platform.base_url, timeout=60) as c:
        token = c.post(
            "/api/v1/auth/token", data={"username": "admin@iplus.local", "password": PASSWORD}
        ).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        c.post(
            "/api/v1/device-types", headers=auth, json={"name": "bench", "thing_model": thing_model(keys)}
        ).raise_for_status()
        made = c.post(
            "/api/v1/devices/bulk",
            headers=auth,
            json={"devices": [{"type": "bench", "id": f"dev-{i}"} for i in range(devices)]},
        )
        made.raise_for_status()
        platform.tokens = {d["id"]: d["token"] for d in made.json()}
        key = c.post("/api/v1/api-keys", headers=auth, json={"name": "bench", "scopes": ["read", "write"]})
        key.raise_for_status()
        platform.api_key = key.json()["key"]
