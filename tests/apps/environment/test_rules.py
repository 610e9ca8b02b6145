"""The domain's rules and permits as data: valid stream rules, one per limited pollutant, every problem listed."""

from __future__ import annotations

import pytest

from iplus.apps.environment.network import EMITTERS
from iplus.apps.environment.rules import AQI_RULES, WATER_RULES, permit_rules
from iplus.apps.environment.sources import check_permit
from iplus.core.errors import InvalidInput
from iplus.engines.stream.model import ThresholdRule, check_document


def test_permit_rules_are_threshold_rules_with_the_hold_time() -> None:
    stack = EMITTERS[1]
    rules, problems = check_document(
        {"rules": permit_rules(stack.id, stack.name, stack.permit.as_attributes())}
    )
    assert problems == []
    assert all(isinstance(r, ThresholdRule) for r in rules)
    got = {
        r.key: (r.op, r.value, r.for_s, r.severity, tuple(r.where.devices))
        for r in rules
        if isinstance(r, ThresholdRule)
    }
    assert got == {
        "so2": (">", 200.0, 60.0, "major", (stack.id,)),
        "nox": (">", 400.0, 60.0, "major", (stack.id,)),
        "dust": (">", 30.0, 60.0, "major", (stack.id,)),
    }


def test_a_permit_without_a_limit_guards_only_what_it_limits() -> None:
    rules = permit_rules("stack-1", "Stack", {"so2_limit": 50.0, "limit_hold_s": 0.0})
    assert [r["key"] for r in rules] == ["so2"]


def test_network_rules_are_valid_and_named_once() -> None:
    rules, problems = check_document({"rules": [*AQI_RULES, *WATER_RULES]})
    assert problems == [] and len({r.name for r in rules}) == 3


def test_a_bad_permit_lists_every_problem() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_permit({"so2_limit": -1, "nox_limit": None, "dust_limit": "lots", "limit_hold_s": 1e9})
    assert sorted(caught.value.extra["errors"]) == [
        "/dust_limit: 'lots' is not a number",
        "/limit_hold_s: the hold time is 0 to 86400 s",
        "/nox_limit: a number is required",
        "/so2_limit: a limit is above 0 and at most 10000 mg/m3",
    ]
    for bad in (float("nan"), float("inf"), True):
        with pytest.raises(InvalidInput):
            check_permit({"so2_limit": bad, "nox_limit": 1, "dust_limit": 1})
    assert check_permit({"so2_limit": "35", "nox_limit": 50, "dust_limit": 10}).hold_s == 60.0
