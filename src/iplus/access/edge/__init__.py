"""The edge agent: process device readings at the gateway and forward them, losing nothing while offline.

Construct with a configuration and run::

    config = load_config(Path("edge.toml"))
    async with EdgeAgent(config) as agent:
        await agent.serve(stop_event)

Pieces: :mod:`.config` (TOML), :mod:`.processing` (deadband, windows, alarms), :mod:`.pipeline`
(per-device processing and the commit), :mod:`.buffer` (SQLite queue), :mod:`.uplink` and
:mod:`.forwarder` (the way up), sources :mod:`.mqtt`, :mod:`.http_input`, :mod:`.generator`.
"""

from iplus.access.edge.agent import AgentStats, EdgeAgent, build_sources
from iplus.access.edge.buffer import AlarmEvent, Buffer
from iplus.access.edge.config import EdgeConfig, load_config, parse_config
from iplus.access.edge.model import OutboxMessage, Reading
from iplus.access.edge.processing import Deadband, ThresholdAlarm, TumblingWindow, WindowResult
from iplus.access.edge.sources import Sink, SinkClosed, Source
from iplus.access.edge.uplink import HttpUplink, PermanentUplinkError, RetryableUplinkError, Uplink

__all__ = [
    "AgentStats",
    "AlarmEvent",
    "Buffer",
    "Deadband",
    "EdgeAgent",
    "EdgeConfig",
    "HttpUplink",
    "OutboxMessage",
    "PermanentUplinkError",
    "Reading",
    "RetryableUplinkError",
    "Sink",
    "SinkClosed",
    "Source",
    "ThresholdAlarm",
    "TumblingWindow",
    "Uplink",
    "WindowResult",
    "build_sources",
    "load_config",
    "parse_config",
]
