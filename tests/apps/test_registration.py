"""Every domain algorithm registers under its stable id, declares units, and gives through the
AlgorithmRegistry what its pure function gives; manifests and code agree; domains stay apart."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from iplus.apps import registry as apps
from iplus.apps.agriculture import et0, water_balance
from iplus.apps.environment import aqi_cn, aqi_us, water
from iplus.apps.health import news2
from iplus.core.errors import ConfigurationError, InvalidInput
from iplus.platform.knowledge.algorithms import AlgorithmRegistry
from iplus.platform.knowledge.builtin import register_builtin

STABLE_IDS = [
    "agriculture.et0_fao56",
    "agriculture.irrigation_fao56",
    "environment.aqi_cn",
    "environment.aqi_hj633_2012",
    "environment.aqi_hj633_2026",
    "environment.aqi_us_epa",
    "environment.nowcast_epa",
    "environment.water_class_gb3838",
    "health.cgm_metrics",
    "health.news2",
]
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
APPS = Path(apps.__file__).parent


@pytest.fixture(scope="module")
def registry() -> AlgorithmRegistry:
    r = AlgorithmRegistry()
    register_builtin(r)
    apps.register_algorithms(r)
    return r


def test_every_domain_algorithm_registers_under_its_stable_id(registry: AlgorithmRegistry) -> None:
    domain_ids = [i for i in registry.ids() if i.split(".")[0] in {"environment", "agriculture", "health"}]
    assert domain_ids == STABLE_IDS
    assert [m.id for m in apps.domain_manifests()] == ["agriculture", "environment", "health"]
    assert sorted(a for m in apps.domain_manifests() for a in m.algorithms) == STABLE_IDS


def numbers(schema: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(schema, dict):
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "number" in kinds or "integer" in kinds:
            found.append((path or "/", schema))
        for name, sub in (schema.get("properties") or {}).items():
            found += numbers(sub, f"{path}/{name}")
        found += numbers(schema.get("items"), f"{path}/items")
    return found


@pytest.mark.parametrize("algorithm_id", STABLE_IDS)
def test_schemas_carry_units_and_snake_case_names(registry: AlgorithmRegistry, algorithm_id: str) -> None:
    algorithm = registry.get(algorithm_id)
    for schema in (algorithm.inputs, algorithm.outputs):
        leaves = numbers(schema)
        assert leaves
        assert all(isinstance(leaf.get("unit"), str) and leaf["unit"] for _, leaf in leaves)
    assert all(SNAKE.match(name) for name in algorithm.inputs["properties"])
    assert algorithm.version == "1.0.0" and algorithm.references


SAMPLES: list[tuple[str, dict[str, Any], Any]] = [
    (
        "environment.aqi_hj633_2012",
        {
            "report": "daily",
            "so2_24h": 12,
            "no2_24h": 45,
            "pm10_24h": 160,
            "co_24h": 1.1,
            "o3_1h_max": 180,
            "o3_8h_max": 150,
            "pm2_5_24h": 90.4,
        },
        lambda i: aqi_cn.compute(aqi_cn.HJ633_2012, i.pop("report"), i),
    ),
    (
        "environment.aqi_hj633_2026",
        {
            "report": "hourly",
            "so2_1h": 900,
            "no2_1h": 45,
            "co_1h": 1.25,
            "o3_1h": 180,
            "pm10_1h": 160.5,
            "pm2_5_1h": 70.5,
        },
        lambda i: aqi_cn.compute(aqi_cn.HJ633_2026, i.pop("report"), i),
    ),
    (
        "environment.aqi_us_epa",
        {"o3_8h": 0.078, "pm2_5_24h": 35.9, "co_8h": 8.4, "so2_1h": 310, "so2_24h": 120, "no2_1h": 90},
        aqi_us.compute,
    ),
    (
        "environment.nowcast_epa",
        {"pollutant": "pm2_5", "hourly": [13, 16, None, 21]},
        lambda i: aqi_us.nowcast(i["hourly"], i["pollutant"]),
    ),
    (
        "environment.water_class_gb3838",
        {"water_body": "lake_reservoir", "total_phosphorus": 0.03, "cod": 12},
        lambda i: water.classify({k: v for k, v in i.items() if k != "water_body"}, i["water_body"]),
    ),
    (
        "agriculture.et0_fao56",
        {
            "latitude": 50.8,
            "altitude": 100,
            "day_of_year": 187,
            "t_max": 21.5,
            "t_min": 12.3,
            "rh_max": 84,
            "rh_min": 63,
            "wind_speed": 2.78,
            "wind_height": 10,
            "sunshine_hours": 9.25,
        },
        lambda i: et0.daily(**i) | {"mode": "daily", "time_step": "d"},
    ),
    (
        "agriculture.irrigation_fao56",
        {
            "theta_fc": 0.3,
            "theta_wp": 0.15,
            "root_depth": 0.5,
            "p_table": 0.5,
            "et0": 5,
            "kc": 1.1,
            "depletion_previous": 40,
            "precipitation": 3,
        },
        lambda i: water_balance.step(**i),
    ),
    (
        "health.news2",
        {
            "respiration_rate": 22,
            "spo2": 93,
            "systolic_bp": 105,
            "pulse": 112,
            "consciousness": "alert",
            "temperature": 38.4,
            "air_or_oxygen": "oxygen",
        },
        lambda i: news2.assess(**i),
    ),
]


@pytest.mark.parametrize(("algorithm_id", "inputs", "direct"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_invoking_through_the_registry_gives_the_pure_result(
    registry: AlgorithmRegistry, algorithm_id: str, inputs: dict[str, Any], direct: Any
) -> None:
    invoked = registry.invoke(algorithm_id, dict(inputs))
    assert invoked.version == "1.0.0"
    assert invoked.outputs == direct(dict(inputs))


def test_the_date_chooses_the_chinese_standard(registry: AlgorithmRegistry) -> None:
    day = {"so2_24h": 10, "no2_24h": 20, "co_24h": 0.8, "pm10_24h": 130, "pm2_5_24h": 70, "o3_8h_max": 90}
    before = registry.invoke("environment.aqi_cn", day | {"date": "2026-02-28", "o3_1h_max": 120}).outputs
    after = registry.invoke("environment.aqi_cn", day | {"date": "2026-03-01", "o3_1h_max": 120}).outputs
    assert before["standard"] == "HJ 633-2012" and before["ignored_inputs"] == []
    assert after["standard"] == "HJ 633-2026" and after["ignored_inputs"] == ["o3_1h_max"]
    # PM2.5 70: 50 + 50/40 x 35 = 93.75 -> 94 (2012); 100 + 50/55 x 10 = 109.09 -> 110 (2026)
    assert before["aqi"] == 94 and after["aqi"] == 110
    assert after["items"]["pm10_24h"]["iaqi"] == 104  # 100 + 50/130 x 10 = 103.85, was 90
    with pytest.raises(InvalidInput) as err:
        registry.invoke("environment.aqi_cn", day | {"date": "2026-02-30"})
    assert err.value.extra["errors"][0].startswith("/date:")


def test_schema_problems_come_with_json_paths(registry: AlgorithmRegistry) -> None:
    with pytest.raises(InvalidInput) as err:
        registry.invoke("environment.aqi_us_epa", {"pm2_5_24h": -3})
    assert err.value.extra["errors"] == ["/pm2_5_24h: -3 is less than the minimum of 0"]
    with pytest.raises(InvalidInput) as err:
        registry.invoke("health.news2", {"respiration_rate": 12})
    assert err.value.extra["errors"] == [
        f"/: '{name}' is a required property"
        for name in ("spo2", "systolic_bp", "pulse", "consciousness", "temperature")
    ]


def test_a_manifest_that_disagrees_with_its_code_is_refused() -> None:
    manifest = apps.domain_manifests()[0]
    wrong = apps.DomainManifest(
        **{**manifest.__dict__, "algorithms": (*manifest.algorithms, "agriculture.x")}
    )
    with pytest.raises(ConfigurationError):
        apps.domain_algorithms(wrong)
    with pytest.raises(ConfigurationError):
        apps._parse("health", '[domain]\nid = "wealth"\ntitle = "t"\ndescription = "d"\nversion = "1"\n')
    with pytest.raises(ConfigurationError):
        apps._parse("health", "[domain\n")


def test_domains_import_no_other_domain_unless_their_manifest_says_so() -> None:
    for manifest in apps.domain_manifests():
        # the shared modules of iplus.apps itself are not domains
        allowed = {manifest.id, *manifest.depends, "demo", "lifecycle", "registry"}
        for source in (APPS / manifest.id).glob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    parts = name.split(".")
                    if parts[:2] == ["iplus", "apps"] and len(parts) > 2:
                        assert parts[2] in allowed, f"{source.name} imports {name}"
