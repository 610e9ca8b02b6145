"""Device profiles: plain data (dict, TOML or JSON) naming each property's signal, faults and dropouts.

A numeric property is the sum of its ``signal`` components, clipped to ``clip``, corrupted by its
``faults`` in order, then rounded to ``decimals`` (or to an integer). A state property is a Markov
chain over ``states``. Example (TOML)::

    name = "room"
    [dropout]
    fraction = 0.01
    [properties.temperature]
    unit = "Cel"
    decimals = 2
    signal = [{kind = "daily", mean = 21, amplitude = 1.5, phase_h = 15}, {kind = "noise", sigma = 0.05}]
    faults = [{kind = "spike", rate_per_h = 0.2, magnitude = 8}]
    [properties.door]
    states = ["closed", "open"]
    dwell_s = [1800, 60]
"""

from __future__ import annotations

import json
import re
import tomllib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Discriminator, Field, Tag, TypeAdapter, ValidationError

from iplus.access.sim.faults import BoolArray, Dropout, MaskStep, Offset, OutOfRange, Spike, Stuck
from iplus.access.sim.replay import Replay
from iplus.access.sim.signals import (
    STRICT,
    Constant,
    Daily,
    Drift,
    FloatArray,
    Markov,
    Noise,
    RandomWalk,
    Scalar,
    StateStep,
)
from iplus.core.errors import InvalidInput

Component = Annotated[Constant | Daily | Noise | Drift | RandomWalk | Replay, Field(discriminator="kind")]
FaultSpec = Annotated[Stuck | Spike | Offset | OutOfRange, Field(discriminator="kind")]
Value = Scalar | float
PropertyStep = Callable[[FloatArray], list[Value | None]]
RESERVED = frozenset({"ts", "msg_id"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_DROPOUT_KEY = 0xD0D0


@dataclass(frozen=True, kw_only=True)
class Numeric:
    """A numeric property: signal components summed, clipped, faulted, then rounded."""

    signal: tuple[Component, ...]
    unit: str | None = None
    faults: tuple[FaultSpec, ...] = ()
    clip: tuple[float, float] | None = None
    decimals: int | None = None
    integer: bool = False
    __pydantic_config__ = STRICT

    def __post_init__(self) -> None:
        if not self.signal:
            raise ValueError("a numeric property needs at least one signal component")
        if self.clip is not None and not self.clip[0] <= self.clip[1]:
            raise ValueError("clip must be [low, high] with low <= high")

    def start(self, rngs: Callable[[int], np.random.Generator], origin: float) -> PropertyStep:
        """The step of the whole property; ``rngs(i)`` is the random stream of its i-th part."""
        steps = [c.start(rngs(i), origin) for i, c in enumerate(self.signal)]
        faults = [f.start(rngs(1000 + i), origin) for i, f in enumerate(self.faults)]

        def step(t: FloatArray) -> list[Value | None]:
            x = np.zeros(t.shape)
            for part in steps:
                x = x + part(t)
            if self.clip is not None:
                x = np.clip(x, self.clip[0], self.clip[1])
            for fault in faults:
                x = fault(t, x)
            return _finish(x, self)

        return step


@dataclass(frozen=True, kw_only=True)
class State(Markov):
    """A state property (string, integer or boolean values) driven by a Markov chain."""

    unit: str | None = None


def _property_tag(value: Any) -> str:
    if isinstance(value, State) or (isinstance(value, Mapping) and "states" in value):
        return "state"
    return "numeric"


Property = Annotated[
    Annotated[Numeric, Tag("numeric")] | Annotated[State, Tag("state")], Discriminator(_property_tag)
]


@dataclass(frozen=True, kw_only=True)
class Profile:
    """What a device of one type sends: its properties and how messages drop out."""

    name: str
    properties: dict[str, Property]
    description: str = ""
    dropout: Dropout = field(default_factory=Dropout)
    __pydantic_config__ = STRICT

    def __post_init__(self) -> None:
        if not self.properties:
            raise ValueError("a profile needs at least one property")
        for key in self.properties:
            if key in RESERVED or not _NAME.match(key):
                raise ValueError(f"property name {key!r} must match {_NAME.pattern} and not be ts or msg_id")

    def replay(self) -> Replay | None:
        """The first replayed component: its series gives the original timestamps and the row pace."""
        for prop in self.properties.values():
            if isinstance(prop, Numeric):
                for component in prop.signal:
                    if isinstance(component, Replay):
                        return component
        return None

    def units(self) -> dict[str, str]:
        """Unit per property, for properties that have one."""
        return {key: prop.unit for key, prop in self.properties.items() if prop.unit}

    def signals(self, seed: int = 0, device: int = 0, origin: float = 0.0) -> DeviceSignals:
        """Fresh generators for one device (streams depend on seed, device index and property name)."""
        return DeviceSignals(self, seed, device, origin)

    def sample(
        self, t: Any, seed: int = 0, device: int = 0, origin: float | None = None
    ) -> dict[str, list[Value | None]]:
        """Every property's values at times ``t`` in one call (``None`` where a replayed value is missing)."""
        times = np.asarray(t, dtype=np.float64)
        start = float(times[0]) if origin is None else origin
        return self.signals(seed, device, start).values(times)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


class DeviceSignals:
    """The running generators of one device: property values and the send mask at ascending times."""

    def __init__(self, profile: Profile, seed: int, device: int, origin: float) -> None:
        self._steps: dict[str, PropertyStep | StateStep] = {}
        for name, prop in profile.properties.items():
            # keyed by the property's name, so adding a property leaves the other streams unchanged
            key = zlib.crc32(name.encode())
            if isinstance(prop, State):
                self._steps[name] = prop.start(_rng(seed, device, key), origin)
            else:
                self._steps[name] = prop.start(partial(_rng, seed, device, key), origin)
        self._keep: MaskStep = profile.dropout.start(_rng(seed, device, _DROPOUT_KEY), origin)

    def values(self, t: FloatArray) -> dict[str, list[Value | None]]:
        """Each property's values at ascending times ``t``; call with later times each time."""
        return {name: list(step(t)) for name, step in self._steps.items()}

    def keep(self, t: FloatArray) -> BoolArray:
        """True for the messages at times ``t`` that are sent, False for those dropped by design."""
        return self._keep(t)


def _finish(x: FloatArray, prop: Numeric) -> list[Value | None]:
    """Round as the profile says; missing replayed values (NaN) become None so the key is left out."""
    if prop.integer:
        x = np.round(x)
    elif prop.decimals is not None:
        x = np.round(x, prop.decimals)
    finite = np.isfinite(x)
    values: list[float] = x.tolist()
    if prop.integer:
        return [int(v) if ok else None for v, ok in zip(values, finite.tolist(), strict=True)]
    return [v if ok else None for v, ok in zip(values, finite.tolist(), strict=True)]


_ADAPTER: TypeAdapter[Profile] | None = None


def _adapter() -> TypeAdapter[Profile]:
    global _ADAPTER
    if _ADAPTER is None:  # built on first use: schema building costs a noticeable fraction of a second
        _ADAPTER = TypeAdapter(Profile)
    return _ADAPTER


def _resolve_paths(data: dict[str, Any], base_dir: Path) -> None:
    """Make replay paths relative to the profile file absolute."""
    for prop in (data.get("properties") or {}).values():
        if not isinstance(prop, dict):
            continue
        for component in prop.get("signal") or ():
            path = component.get("path") if isinstance(component, dict) else None
            if isinstance(path, str) and not Path(path).is_absolute() and (base_dir / path).exists():
                component["path"] = str((base_dir / path).resolve())


def parse_profile(data: Mapping[str, Any], name: str = "profile", base_dir: Path | None = None) -> Profile:
    """Validate profile data; relative replay paths are taken from ``base_dir``; replayed files are read."""
    raw = json.loads(json.dumps(data))  # a deep, plain copy we may edit
    raw.setdefault("name", name)
    if base_dir is not None:
        _resolve_paths(raw, base_dir)
    try:
        profile = _adapter().validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"profile {raw['name']}: {where}: {first['msg']}") from exc
    except ValueError as exc:
        raise InvalidInput(f"profile {raw['name']}: {exc}") from exc
    for key, prop in profile.properties.items():
        for component in prop.signal if isinstance(prop, Numeric) else ():
            if isinstance(component, Replay):
                try:
                    component.series()  # fail now, not in the middle of a run
                except InvalidInput as exc:
                    raise InvalidInput(f"profile {profile.name}: properties.{key}: {exc.detail}") from exc
    return profile


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with iplus."""
    folder = resources.files("iplus.access.sim") / "profiles"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_profile(spec: str | Path | Mapping[str, Any]) -> Profile:
    """A profile from a built-in name (``room``, ``weather``, ``water-flow``), a TOML/JSON file, or a dict."""
    if isinstance(spec, Mapping):
        return parse_profile(spec)
    if isinstance(spec, str) and spec in builtin_profiles():
        text = (resources.files("iplus.access.sim") / "profiles" / f"{spec}.toml").read_text("utf-8")
        return parse_profile(tomllib.loads(text), name=spec)
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(builtin_profiles())
        raise InvalidInput(f"profile {spec}: neither a built-in ({names}) nor a TOML/JSON file")
    try:
        text = path.read_text("utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"profile {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"profile {path}: the top level must be a table/object")
    return parse_profile(data, name=path.stem, base_dir=path.parent)
