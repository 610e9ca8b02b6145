"""Device simulator: N devices sending realistic or replayed readings over MQTT or HTTP at a set rate.

Build a profile (``load_profile("room")``, a TOML/JSON file, or a dict), pick devices and a transport,
and run::

    profile = load_profile("room")
    devices = generate_devices(10, prefix="sim-", token="secret")
    transport = MqttTransport("mqtt://127.0.0.1:1883", qos=1)
    stats = await simulate(devices, profile, transport, RunOptions(rate=50, count=500, seed=1))
"""

from iplus.access.sim.devices import Device, generate_devices, read_devices
from iplus.access.sim.payloads import Message, batch_body, flat_json, senml
from iplus.access.sim.profiles import Profile, builtin_profiles, load_profile, parse_profile
from iplus.access.sim.runner import Runner, RunOptions, Stats, simulate
from iplus.access.sim.transports import (
    Failure,
    HttpBatchTransport,
    HttpTransport,
    MqttTransport,
    StdoutTransport,
    Transport,
    topic_of,
)

__all__ = [
    "Device",
    "Failure",
    "HttpBatchTransport",
    "HttpTransport",
    "Message",
    "MqttTransport",
    "Profile",
    "RunOptions",
    "Runner",
    "Stats",
    "StdoutTransport",
    "Transport",
    "batch_body",
    "builtin_profiles",
    "flat_json",
    "generate_devices",
    "load_profile",
    "parse_profile",
    "read_devices",
    "senml",
    "simulate",
    "topic_of",
]
