"""What a local alarm does when it raises or clears: log, and optionally publish a local MQTT command."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson

from iplus.access.edge.buffer import AlarmEvent
from iplus.access.edge.config import AlarmConfig, DeviceConfig
from iplus.access.edge.model import iso
from iplus.access.edge.mqtt import MqttPublisher

log = logging.getLogger("iplus.edge.alarms")


def command_payload(spec: AlarmConfig, event: AlarmEvent) -> bytes:
    """The JSON a local actuator receives: the alarm, its new state, the value, and the configured command."""
    doc: dict[str, object] = {
        "alarm": event.alarm,
        "device_id": event.device_id,
        "active": event.active,
        "property": event.property,
        "value": event.value,
        "ts": iso(event.ts),
    }
    command = None
    if spec.publish is not None:
        command = spec.publish.on_raise if event.active else spec.publish.on_clear
    if command is not None:
        doc["command"] = command
    return orjson.dumps(doc)


class AlarmActions:
    """Runs the configured actions of alarm events; recording them is the pipeline's job."""

    def __init__(self, devices: Sequence[DeviceConfig], publisher: MqttPublisher | None = None) -> None:
        self._specs = {(d.id, a.name): a for d in devices for a in d.alarms}
        self.publisher = publisher

    @staticmethod
    def needs_publisher(devices: Sequence[DeviceConfig]) -> bool:
        """True when some alarm publishes a local command."""
        return any(a.publish is not None for d in devices for a in d.alarms)

    def __call__(self, events: Sequence[AlarmEvent]) -> None:
        """Log and publish for each event."""
        for event in events:
            spec = self._specs.get((event.device_id, event.alarm))
            if spec is None:
                continue
            if spec.log:
                log.warning(
                    "alarm %s on %s %s: %s = %g (%s %g)",
                    event.alarm,
                    event.device_id,
                    "RAISED" if event.active else "cleared",
                    event.property,
                    event.value,
                    spec.op.value,
                    spec.threshold,
                )
            if spec.publish is not None and self.publisher is not None:
                topic = spec.publish.topic.replace("{device_id}", event.device_id).replace(
                    "{alarm}", event.alarm
                )
                self.publisher.publish(topic, command_payload(spec, event), spec.publish.qos)
