"""Training service: telemetry from the store -> AI engine on the compute backend -> model registry."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from iplus.core.errors import InvalidInput
from iplus.core.roles import Scope
from iplus.engines.ai.batch_anomaly import score_isolation_forest
from iplus.engines.ai.forecast import forecast
from iplus.engines.ai.metrics import FloatArray
from iplus.engines.ai.online import HALF_SPACE_TREES, MAX_HST_REPLAY_WORK, online_detector, run_detector
from iplus.engines.ai.online import KINDS as ONLINE_KINDS
from iplus.engines.ai.params import check_work
from iplus.engines.ai.train import FORECAST, ISOLATION_FOREST, KINDS, train_job
from iplus.infra.db.models_ai import ModelVersion
from iplus.infra.ports import Compute, TelemetryStore
from iplus.infra.telemetry import Selection
from iplus.platform.models import ModelRegistry, NewVersion, check_name
from iplus.security.principal import Principal

MAX_ROWS = 2_000_000
MAX_DEVICES = 100


@dataclass(frozen=True)
class TrainSpec:
    """What to train: a model kind on one numeric property of some devices over a time range."""

    name: str
    kind: str
    device_ids: list[str]
    key: str
    start: datetime | None = None
    end: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)


def series_of(table: Any, key: str) -> tuple[FloatArray, FloatArray]:
    """Epoch seconds and numeric values of ``key`` from an exported Arrow table, in time order.

    Several devices become one series: readings at the same instant are averaged.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = table.filter(pc.and_(pc.equal(table["key"], key), pc.is_valid(table["num"])))
    if rows.num_rows == 0:
        raise InvalidInput(f"no numeric readings of {key!r} in the selection")
    us = np.asarray(rows["ts"].cast(pa.timestamp("us")).cast(pa.int64()).to_numpy(), dtype=np.int64)
    values = np.asarray(rows["num"].to_numpy(), dtype=np.float64)
    stamps, inverse = np.unique(us, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse)
    return stamps / 1e6, sums / counts


class Trainer:
    """Trains models on an organisation's telemetry and serves predictions of registered versions."""

    def __init__(self, telemetry: TelemetryStore, compute: Compute, registry: ModelRegistry) -> None:
        self.telemetry = telemetry
        self.compute = compute
        self.registry = registry

    async def train(self, caller: Principal, spec: TrainSpec) -> ModelVersion:
        """Read the selection, train on the compute backend, register a candidate version with metrics."""
        caller.require_scope(Scope.WRITE)
        check_name(spec.name)
        if spec.kind not in KINDS:
            raise InvalidInput(f"unknown model kind {spec.kind!r}: use {', '.join(KINDS)}")
        if not spec.device_ids or len(spec.device_ids) > MAX_DEVICES:
            raise InvalidInput(f"give 1 to {MAX_DEVICES} devices")
        if not spec.key:
            raise InvalidInput("give the property key to train on")
        if spec.start and spec.end and spec.start >= spec.end:
            raise InvalidInput("start must be before end")
        sel = Selection(caller.org_id, sorted(set(spec.device_ids)), [spec.key], spec.start, spec.end)
        table = await self.telemetry.export(sel)
        if table.num_rows > MAX_ROWS:
            raise InvalidInput(
                f"the selection holds {table.num_rows} readings: narrow it to {MAX_ROWS} or fewer"
            )
        times, values = await asyncio.to_thread(series_of, table, spec.key)
        result = await self.compute.submit(train_job, spec.kind, times, values, spec.params)
        lineage = {
            "data_start": _iso(times[0]),
            "data_end": _iso(times[-1]),
            "readings": int(times.size),
            "devices": sel.device_ids,
            "key": spec.key,
            "requested_start": spec.start.isoformat() if spec.start else None,
            "requested_end": spec.end.isoformat() if spec.end else None,
            "params": result["params"],
        }
        return await self.registry.register(
            caller,
            NewVersion(
                name=spec.name,
                kind=spec.kind,
                artifact=result["artifact"],
                artifact_format=result["format"],
                metrics=result["metrics"],
                lineage=lineage,
                evaluation=result["evaluation"],
            ),
        )

    async def predict(
        self,
        caller: Principal,
        name: str,
        version: int,
        *,
        horizon: int | None = None,
        values: Sequence[float] | None = None,
    ) -> dict[str, Any]:
        """A forecast ``horizon`` steps ahead (from ``values`` or the devices' latest readings), or scores."""
        row, data = await self.registry.artifact(caller, name, version)
        if row.kind == FORECAST:
            if horizon is None:
                raise InvalidInput("a forecasting model needs a horizon")
            history = list(values) if values is not None else await self._recent(caller, row)
            out = await asyncio.to_thread(forecast, data, horizon, history)
            return {"kind": row.kind, "forecast": out}
        if not values:
            raise InvalidInput("an anomaly model needs values to score")
        if row.kind == ISOLATION_FOREST:
            scores, flags = await asyncio.to_thread(score_isolation_forest, data, list(values))
            return {"kind": row.kind, "scores": scores, "anomalous": flags}
        if row.kind in ONLINE_KINDS:
            params: Mapping[str, Any] = row.lineage["params"]
            if row.kind == HALF_SPACE_TREES:
                work = len(values) * int(params["n_trees"]) * int(params["height"])
                check_work(row.kind, work, MAX_HST_REPLAY_WORK, "values x n_trees x height")
            online = await asyncio.to_thread(
                run_detector, online_detector(row.kind, params), [float(v) for v in values]
            )
            threshold = float(params["threshold"])
            # a huge value over a flat history scores infinity, which JSON cannot carry: null
            shown = [s if math.isfinite(s) else None for s in online]
            return {"kind": row.kind, "scores": shown, "anomalous": [s > threshold for s in online]}
        raise InvalidInput(f"model kind {row.kind!r} cannot predict")

    async def _recent(self, caller: Principal, row: ModelVersion) -> list[float]:
        lags = int(row.lineage["params"].get("lags", 24))
        devices: list[str] = row.lineage["devices"]
        sel = Selection(caller.org_id, devices, [row.lineage["key"]])
        readings = await self.telemetry.readings(sel, limit=lags * len(devices) * 4, newest_first=True)
        by_time: dict[datetime, list[float]] = {}
        for r in readings:
            if isinstance(r.value, int | float) and not isinstance(r.value, bool):
                by_time.setdefault(r.ts, []).append(float(r.value))
        series = [sum(v) / len(v) for _, v in sorted(by_time.items())]
        if len(series) < lags:
            raise InvalidInput(f"the devices have {len(series)} recent readings; the model needs {lags}")
        return series[-lags:]


def _iso(epoch_s: float) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(float(epoch_s), UTC).isoformat()
