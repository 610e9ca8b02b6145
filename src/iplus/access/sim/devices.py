"""The simulated devices: credentials from the platform's bulk-import CSV, or generated for quick tries."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from iplus.core.errors import InvalidInput

# a device id becomes an MQTT topic level and a URL path segment: no separators or wildcards
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True)
class Device:
    """One device's identity and credential, and optionally its type (which picks its profile)."""

    device_id: str
    token: str
    type: str | None = None

    def __post_init__(self) -> None:
        if not _DEVICE_ID.match(self.device_id):
            raise InvalidInput(f"device id {self.device_id!r} must match {_DEVICE_ID.pattern}")
        if not self.token:
            raise InvalidInput(f"device {self.device_id} has no token")


def read_devices(path: Path) -> list[Device]:
    """Devices from a CSV file with columns ``device_id,token`` and optionally ``type``."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"device_id", "token"} - set(reader.fieldnames or ())
            if missing:
                raise InvalidInput(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            devices = [
                Device(
                    row["device_id"].strip(),
                    (row["token"] or "").strip(),
                    (row.get("type") or "").strip() or None,
                )
                for row in reader
                if any((value or "").strip() for value in row.values())
            ]
    except OSError as exc:
        raise InvalidInput(f"cannot read devices from {path}: {exc}") from exc
    if not devices:
        raise InvalidInput(f"{path}: no devices")
    seen: set[str] = set()
    for device in devices:
        if device.device_id in seen:
            raise InvalidInput(f"{path}: device {device.device_id} is listed twice")
        seen.add(device.device_id)
    return devices


def generate_devices(
    count: int,
    prefix: str = "sim-",
    token: str = "sim-token",  # noqa: S107 (a simulator default, not a secret)
    device_type: str | None = None,
) -> list[Device]:
    """``count`` devices ``<prefix>0001``... sharing one token."""
    if count < 1:
        raise InvalidInput("generate at least one device")
    width = max(4, len(str(count)))
    return [Device(f"{prefix}{i:0{width}d}", token, device_type) for i in range(1, count + 1)]
