"""Replay of measured series shipped inside installed packages (no network at run time).

A :class:`Series` places each row at an offset (seconds after its first row) and keeps the row's
original time apart: TMY3 stitches typical months from different years, so its original times are
not monotonic and the offsets come from the row position instead. A value at a simulated elapsed
time is the row in force then (sample and hold), so replayed values are exactly the file's own;
past the end the series loops.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from iplus.access.sim.signals import HOUR_S, STRICT, FloatArray, Step
from iplus.core.errors import InvalidInput

IntArray = npt.NDArray[np.int64]
TMY3_FILE = "723170TYA.CSV"
WATER_FLOW_FILE = "water-flow.csv"
# rounding of float sample times (epoch seconds ~1e9) must not move a sample to the previous row
_ROW_TOLERANCE_S = 1e-3


@dataclass(frozen=True, eq=False)
class Series:
    """A measured series: row offsets from the first row, original row times, and numeric columns."""

    name: str
    offsets: FloatArray
    epochs: FloatArray
    columns: dict[str, FloatArray]

    def __post_init__(self) -> None:
        if self.offsets.size < 2 or not np.all(np.diff(self.offsets) > 0):
            raise InvalidInput(f"series {self.name}: needs two or more rows at increasing times")

    def __len__(self) -> int:
        return int(self.offsets.size)

    @property
    def step_s(self) -> float:
        """The usual spacing of rows (the median), in seconds."""
        return float(np.median(np.diff(self.offsets)))

    @property
    def period_s(self) -> float:
        """How long one pass over the series lasts before it loops: its span plus one step."""
        return float(self.offsets[-1]) + self.step_s

    def rows(self, elapsed: npt.ArrayLike) -> tuple[IntArray, IntArray]:
        """The row in force at each elapsed time, and how many whole loops came before it."""
        e = np.asarray(elapsed, dtype=np.float64) + _ROW_TOLERANCE_S
        loops = np.floor_divide(e, self.period_s)
        within = e - loops * self.period_s
        rows = np.searchsorted(self.offsets, within, side="right") - 1
        return np.clip(rows, 0, len(self) - 1).astype(np.int64), loops.astype(np.int64)

    def row_elapsed(self, index: npt.ArrayLike) -> FloatArray:
        """Elapsed time at which the ``index``-th row (counting on through the loops) comes up."""
        i = np.asarray(index, dtype=np.int64)
        loops, rows = np.divmod(i, len(self))
        return loops * self.period_s + self.offsets[rows]

    def values(self, column: str, elapsed: npt.ArrayLike) -> FloatArray:
        """The column's value in force at each elapsed time."""
        rows, _ = self.rows(elapsed)
        return self.columns[column][rows]

    def timestamps(self, elapsed: npt.ArrayLike) -> FloatArray:
        """The original time (epoch seconds) of the row in force, shifted by whole loops."""
        rows, loops = self.rows(elapsed)
        return self.epochs[rows] + loops * self.period_s


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInput(f"package {package} is not installed: it ships the series to replay")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise InvalidInput(f"{path} is missing from the installed {package}")
    return path


def read_tmy3(path: Path | None = None) -> Series:
    """A TMY3 file (pvlib's Greensboro ``723170TYA.CSV`` by default) with pvlib's column names."""
    import pvlib.iotools  # type: ignore[import-untyped]  # lazily: pvlib and pandas take seconds to import

    path = path or package_file("pvlib", "data", TMY3_FILE)
    frame, _meta = pvlib.iotools.read_tmy3(str(path), map_variables=True)
    epochs = np.asarray(frame.index.map(lambda ts: ts.timestamp()), dtype=np.float64)
    columns = {
        str(name): frame[name].to_numpy(dtype=np.float64)
        for name in frame.columns
        if frame[name].dtype.kind in "if"
    }
    # a typical year is hourly by definition; its months come from different years, so use the position
    offsets = np.arange(len(frame), dtype=np.float64) * HOUR_S
    return Series(f"tmy3:{path.name}", offsets, epochs, columns)


def _number(text: str) -> float:
    text = text.strip()
    return float(text) if text else math.nan


def read_csv(path: Path, time_column: str = "Time") -> Series:
    """A CSV file with ISO 8601 times carrying a UTC offset in ``time_column`` and numeric columns."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    if not rows or time_column not in rows[0]:
        raise InvalidInput(f"{path}: no rows, or no time column {time_column!r}")
    try:
        times = [datetime.fromisoformat(row[time_column]) for row in rows]
    except ValueError as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    if any(t.tzinfo is None for t in times):
        raise InvalidInput(f"{path}: every time needs a UTC offset")
    epochs = np.array([t.timestamp() for t in times], dtype=np.float64)
    columns: dict[str, FloatArray] = {}
    for name in rows[0]:
        if name == time_column:
            continue
        try:
            columns[name] = np.array([_number(row[name] or "") for row in rows], dtype=np.float64)
        except ValueError:
            continue  # a text column: nothing to replay
    return Series(f"csv:{path.name}", epochs - epochs[0], epochs, columns)


def read_water_flow() -> Series:
    """river's hourly pipeline flow (March to May 2022), column ``Water flow [l/s]``."""
    return read_csv(package_file("river", "datasets", WATER_FLOW_FILE), "Time")


@lru_cache(maxsize=16)
def load(source: str, path: str | None = None, time_column: str = "Time") -> Series:
    """A series by source name, read once per process and shared by every device."""
    if source == "tmy3":
        if path is None:
            return read_tmy3()
        candidate = Path(path)
        if not candidate.is_absolute() and not candidate.exists():
            candidate = package_file("pvlib", "data", path)  # another of pvlib's TMY3 files by name
        return read_tmy3(candidate)
    if source == "water-flow":
        return read_water_flow()
    if source == "csv":
        if path is None:
            raise InvalidInput("a csv replay needs a path")
        return read_csv(Path(path), time_column)
    raise InvalidInput(f"unknown replay source {source!r}: use tmy3, water-flow or csv")


@dataclass(frozen=True, kw_only=True)
class Replay:
    """A measured column replayed as ``value * scale + shift``, at elapsed simulated time since the start."""

    kind: Literal["replay"] = "replay"
    source: Literal["tmy3", "water-flow", "csv"]
    column: str
    path: str | None = None
    time_column: str = "Time"
    scale: float = 1.0
    shift: float = 0.0
    __pydantic_config__ = STRICT

    def series(self) -> Series:
        """The series this component replays (checked to hold the column)."""
        series = load(self.source, self.path, self.time_column)
        if self.column not in series.columns:
            known = ", ".join(sorted(series.columns))
            raise InvalidInput(f"{series.name} has no numeric column {self.column!r}; it has: {known}")
        return series

    def start(self, rng: np.random.Generator, origin: float) -> Step:
        """The step: the row in force at ``t - origin``, scaled and shifted."""
        series = self.series()
        return lambda t: series.values(self.column, t - origin) * self.scale + self.shift
