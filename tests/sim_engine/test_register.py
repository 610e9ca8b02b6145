"""Scenario kinds registered from outside the engine run in fresh worker processes too."""

from __future__ import annotations

import dataclasses
import importlib.machinery
import sys
import types
from collections.abc import Iterator

import pytest

import iplus.apps.registry
from iplus.apps.registry import DomainManifest, register_scenarios
from iplus.core.errors import ConfigurationError
from iplus.engines.sim import execute, plan, run_inline, runner
from iplus.engines.sim.runner import kind, kinds, origin, register
from iplus.infra.compute.local import LocalCompute

MODULE = "tests.sim_engine.extra_kinds"


@pytest.fixture(autouse=True)
def _registry_restored() -> Iterator[None]:
    """The kinds registered here are gone afterwards: other tests go through every registered kind."""
    registered, origins = dict(kinds()), dict(runner._ORIGINS)
    yield
    kinds().clear()
    kinds().update(registered)
    runner._ORIGINS.clear()
    runner._ORIGINS.update(origins)


def test_a_module_registers_its_kinds_once_and_refuses_a_clash() -> None:
    assert register(MODULE) == ["testdomain.ticks"]
    assert register(MODULE) == ["testdomain.ticks"]  # again from the same module: no clash
    assert origin("testdomain.ticks") == MODULE
    assert origin("queueing_station") is None and "queueing_station" in kinds()
    assert kind("testdomain.ticks").title == "Ticks"
    # another module may not take a registered name
    clash = types.ModuleType("tests.sim_engine.clashing_kinds")
    clash.SCENARIOS = (dataclasses.replace(kind("testdomain.ticks"), name="queueing_station"),)  # type: ignore[attr-defined]
    sys.modules[clash.__name__] = clash
    try:
        with pytest.raises(ConfigurationError, match="'queueing_station' is already registered"):
            register(clash.__name__)
    finally:
        del sys.modules[clash.__name__]
    assert kind("queueing_station").title != "Ticks"


async def test_a_spawned_worker_finds_the_kind_by_its_module() -> None:
    register(MODULE)
    compute = LocalCompute("local://?workers=1")
    try:
        # ticks at 0.25, 0.5, ..., 10.0 (exact binary fractions) before the horizon 10.1: 40
        points = await execute(plan("testdomain.ticks", {"horizon": 10.1, "period": 0.25}, seed=3), compute)
    finally:
        await compute.close()
    assert points[0].kpis["ticks"]["mean"] == 40.0


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(Exception, match="unknown scenario kind"):
        kind("nodomain.nothing")


@pytest.fixture
def fake_domain(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A domain ``fakedomain`` whose ``scenarios`` module the test fills in; the only domain found."""
    name = "tests.sim_engine.fakedomain.scenarios"
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    manifest = DomainManifest("fakedomain", "tests.sim_engine.fakedomain", "Fake", "", "1", (), (), {})
    monkeypatch.setattr(iplus.apps.registry, "domain_manifests", lambda: (manifest,))
    monkeypatch.setitem(sys.modules, name, module)
    return module


def _ticks(name: str) -> object:
    return dataclasses.replace(kind("testdomain.ticks"), name=name)


def test_a_kind_outside_its_domains_prefix_registers_nothing_of_its_module(
    fake_domain: types.ModuleType,
) -> None:
    register(MODULE)
    fake_domain.SCENARIOS = (_ticks("fakedomain.good"), _ticks("elsewhere.bad"), _ticks("fakedomain."))  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError) as caught:
        register_scenarios()
    assert "tests.sim_engine.fakedomain.scenarios" in caught.value.detail
    assert "'elsewhere.bad' must be named fakedomain.<kind>" in caught.value.detail
    assert "'fakedomain.' must be named fakedomain.<kind>" in caught.value.detail
    # all or nothing: not even the well-named kind is offered
    assert not {"fakedomain.good", "elsewhere.bad", "fakedomain."} & set(kinds())
    fake_domain.SCENARIOS = (_ticks("fakedomain.good"),)  # type: ignore[attr-defined]
    assert register_scenarios() == ["fakedomain.good"]
    assert origin("fakedomain.good") == "tests.sim_engine.fakedomain.scenarios"


def test_a_kind_listed_twice_or_not_a_kind_is_refused(fake_domain: types.ModuleType) -> None:
    register(MODULE)
    fake_domain.SCENARIOS = (_ticks("fakedomain.a"), _ticks("fakedomain.a"), "fakedomain.b")  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match=r"'fakedomain.a' is listed twice; 'fakedomain.b' is not"):
        register_scenarios()
    assert "fakedomain.a" not in kinds()
    fake_domain.SCENARIOS = _ticks("fakedomain.a")  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="SCENARIOS must be a tuple"):
        register_scenarios()


def test_a_domain_module_failing_at_import_stops_the_start_with_its_name(
    fake_domain: types.ModuleType,
) -> None:
    with pytest.raises(
        ConfigurationError, match=r"tests.sim_engine.broken_kinds: cannot load .*cannot be imported"
    ):
        register("tests.sim_engine.broken_kinds")
    # a module without SCENARIOS, found as a domain's scenarios module at start
    with pytest.raises(ConfigurationError, match=r"fakedomain.scenarios: cannot load .*SCENARIOS"):
        register_scenarios()


async def test_the_domains_kinds_give_the_same_numbers_in_a_spawned_worker() -> None:
    # a fresh worker process imports each domain's module by name and runs the same seeded streams
    small = {
        "agriculture.irrigation_season": {"horizon": 60, "et0_source": "typical_year"},
        "environment.episode_control": {"horizon": 300, "warmup": 24},
        "health.escalation_response": {"horizon": 3000.0, "warmup": 100.0},
    }
    assert set(small) <= set(register_scenarios())
    compute = LocalCompute("local://?workers=1")
    try:
        for name, params in small.items():
            experiment = plan(name, params, seed=5, replications=2)
            (there,) = await execute(experiment, compute)
            (here,) = run_inline(experiment)
            assert there == here, name
            assert there.replications[0] != there.replications[1], name
    finally:
        await compute.close()
