"""The scheduler keeps the target rate, measured independently from when the transport was handed messages."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from iplus.access.sim import Runner, RunOptions, generate_devices, load_profile, simulate
from iplus.core.errors import InvalidInput

from .conftest import Recorder


async def test_achieved_rate_within_ten_percent_over_three_seconds(recorder: Recorder) -> None:
    stats = await simulate(
        generate_devices(20), load_profile("room"), recorder, RunOptions(rate=200, duration_s=3.0)
    )
    assert stats.slots == 600 and stats.sent + stats.dropped == 600
    assert stats.achieved_rate == pytest.approx(200, rel=0.1)
    times = np.array(recorder.times)
    measured = np.polyfit(times - times[0], np.arange(times.size), 1)[0]  # messages per second, by slope
    assert measured == pytest.approx(200 * stats.sent / 600, rel=0.1)
    assert 2.9 <= stats.elapsed_s <= 3.3


async def test_round_robin_and_count(recorder: Recorder) -> None:
    profile = load_profile("water-flow")
    stats = await simulate(generate_devices(3), profile, recorder, RunOptions(rate=1000, count=9))
    assert stats.sent == 9 and recorder.closed
    assert [m.device_id for m in recorder.messages] == ["sim-0001", "sim-0002", "sim-0003"] * 3


async def test_stop_event_ends_an_unbounded_run(recorder: Recorder) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, stop.set)
    stats = await Runner(generate_devices(2), load_profile("room"), recorder, RunOptions(rate=100)).run(
        stop=stop
    )
    assert 30 <= stats.slots <= 70 and recorder.closed


async def test_progress_is_reported(recorder: Recorder) -> None:
    seen: list[int] = []
    runner = Runner(generate_devices(2), load_profile("water-flow"), recorder, RunOptions(rate=100, count=60))
    await runner.run(progress=lambda s: seen.append(s.slots), progress_every_s=0.1)
    assert len(seen) >= 4 and seen[-1] == 60 and seen == sorted(seen)


async def test_device_types_pick_profiles(recorder: Recorder) -> None:
    devices = generate_devices(2, device_type="meter") + generate_devices(
        1, prefix="room-", device_type="room"
    )
    await simulate(
        devices,
        {"meter": load_profile("water-flow"), "room": load_profile("room")},
        recorder,
        RunOptions(rate=1000, count=3),
    )
    assert [set(m.values) == {"flow"} for m in recorder.messages] == [True, True, False]
    with pytest.raises(InvalidInput, match="no profile is given"):
        Runner(devices, {"meter": load_profile("water-flow")}, recorder, RunOptions())


@pytest.mark.parametrize(
    "kwargs", [{"rate": 0}, {"duration_s": -1}, {"count": 0}, {"speed": 0}, {"max_in_flight": 0}]
)
def test_bad_options_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidInput):
        RunOptions(**kwargs)  # type: ignore[arg-type]
