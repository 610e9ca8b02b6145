"""Stream engine: rules as data (threshold, window, derived, sequence, anomaly), alarms and actions."""

from iplus.engines.stream.detector import DetectorFactory, OnlineDetector
from iplus.engines.stream.engine import Derived, LoadedRule, StreamEngine
from iplus.engines.stream.evaluators import Signal

__all__ = ["Derived", "DetectorFactory", "LoadedRule", "OnlineDetector", "Signal", "StreamEngine"]
