"""The environment domain's registered algorithms: Chinese and US air quality indices, surface-water class."""

from __future__ import annotations

import datetime as dt
from typing import Any

from iplus.apps.environment import aqi_cn, aqi_us, water
from iplus.core.errors import InvalidInput
from iplus.platform.knowledge.algorithms import Algorithm

HJ633_2026_IN_FORCE = dt.date(2026, 3, 1)


def _number(unit: str, description: str, *, nullable: bool = False, **bounds: Any) -> dict[str, Any]:
    kind: Any = ["number", "null"] if nullable else "number"
    return {"type": kind, "unit": unit, "description": description, **bounds}


def _integer(description: str, *, nullable: bool = False) -> dict[str, Any]:
    return {"type": ["integer", "null"] if nullable else "integer", "unit": "1", "description": description}


def _text(description: str, *, nullable: bool = False, **more: Any) -> dict[str, Any]:
    return {"type": ["string", "null"] if nullable else "string", "description": description, **more}


def _strings(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


# ---- HJ 633 -------------------------------------------------------------------------------------------


def _cn_inputs(standards: tuple[aqi_cn.Standard, ...], with_date: bool) -> dict[str, Any]:
    keys: dict[str, aqi_cn.Item] = {}
    for standard in standards:
        for key, item in aqi_cn.all_keys(standard).items():
            keys.setdefault(key, item)
    properties: dict[str, Any] = {}
    if with_date:
        properties["date"] = _text(
            "date of the data (China Standard Time): before 2026-03-01 HJ 633-2012 applies, from then on "
            "HJ 633-2026",
            format="date",
        )
    properties["report"] = _text(
        "daily report (24-hour means, daily maximum O3) or hourly real-time report",
        enum=["daily", "hourly"],
        default="daily",
    )
    for key, item in keys.items():
        properties[key] = _number(item.column.unit, item.description, minimum=0)
    return _object(properties, ["date"] if with_date else [])


def _cn_item_schema(unit: str) -> dict[str, Any]:
    return _object(
        {
            "pollutant": _text("pollutant"),
            "concentration": _number(unit, "concentration as given"),
            "concentration_used": _number(unit, "concentration scored (HJ 633-2026: rounded per GB/T 8170)"),
            "unit": _text("unit of the concentration"),
            "breakpoints": _text("Table 1 column that scored it"),
            "bp_lo": _number(unit, "BP_Lo: breakpoint at or below the concentration", nullable=True),
            "bp_hi": _number(unit, "BP_Hi: breakpoint at or above the concentration", nullable=True),
            "iaqi_lo": _integer("IAQI_Lo: the index at BP_Lo", nullable=True),
            "iaqi_hi": _integer("IAQI_Hi: the index at BP_Hi", nullable=True),
            "iaqi_exact": _number("1", "IAQI before rounding up", nullable=True),
            "iaqi": _integer("IAQI, rounded up to an integer", nullable=True),
            "rule": _text("the standard's rule that decided the IAQI instead of the table", nullable=True),
        }
    )


def _cn_outputs(standards: tuple[aqi_cn.Standard, ...], with_date: bool) -> dict[str, Any]:
    items: dict[str, Any] = {}
    for standard in standards:
        for listed in standard.reports.values():
            for item in listed:
                items.setdefault(item.key, _cn_item_schema(item.column.unit))
    properties: dict[str, Any] = {
        "standard": _text("the standard applied", enum=[s.code for s in standards]),
        "report": _text("daily or hourly report", enum=["daily", "hourly"]),
        "aqi": _integer("AQI: the largest IAQI"),
        "level": _integer("AQI level 1-6"),
        "category": _text("AQI category (优, 良, 轻度污染, 中度污染, 重度污染, 严重污染)"),
        "category_en": _text("AQI category in English"),
        "colour": _text("category colour", enum=["green", "yellow", "orange", "red", "purple", "maroon"]),
        "primary_pollutants": _strings(
            "首要污染物: indicators with the largest IAQI when the AQI is above 50"
        ),
        "items": _object(items, []) | {"description": "per indicator: concentration, breakpoints, IAQI"},
    }
    required = list(properties)
    if any(s.exceedance for s in standards):
        properties["exceedance_pollutants"] = _strings(
            "超标污染物 (HJ 633-2012): indicators with IAQI above 100"
        )
        if all(s.exceedance for s in standards):
            required.append("exceedance_pollutants")
    if with_date:
        properties["date"] = _text("date of the data", format="date")
        properties["ignored_inputs"] = _strings("inputs the chosen standard's report does not read")
        required += ["date", "ignored_inputs"]
    return _object(properties, required)


def _aqi_2012(*, report: str, **concentrations: float) -> dict[str, Any]:
    return aqi_cn.compute(aqi_cn.HJ633_2012, report, concentrations)


def _aqi_2026(*, report: str, **concentrations: float) -> dict[str, Any]:
    return aqi_cn.compute(aqi_cn.HJ633_2026, report, concentrations)


def standard_in_force(day: dt.date) -> aqi_cn.Standard:
    """HJ 633-2012 for data before 2026-03-01, HJ 633-2026 from that day on."""
    return aqi_cn.HJ633_2026 if day >= HJ633_2026_IN_FORCE else aqi_cn.HJ633_2012


def _aqi_by_date(*, date: str, report: str, **concentrations: float) -> dict[str, Any]:
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise InvalidInput(
            "the date is not valid", errors=[f"/date: {date!r} is not a YYYY-MM-DD date"]
        ) from None
    standard = standard_in_force(day)
    if report in standard.reports:
        reads = {i.key for i in standard.reports[report] + standard.auxiliary[report]}
    else:
        reads = set(aqi_cn.all_keys(standard))  # compute() then names the unknown report
    used = {k: v for k, v in concentrations.items() if k in reads}
    result = aqi_cn.compute(standard, report, used)
    return result | {"date": day.isoformat(), "ignored_inputs": sorted(set(concentrations) - set(used))}


# ---- US EPA -------------------------------------------------------------------------------------------


def _epa_item_schema(unit: str) -> dict[str, Any]:
    return _object(
        {
            "pollutant": _text("pollutant"),
            "concentration": _number(unit, "concentration as given"),
            "truncated": _number(unit, "concentration truncated as the TAD prescribes"),
            "unit": _text("unit"),
            "c_lo": _number(unit, "BP_Lo of the segment used", nullable=True),
            "c_hi": _number(unit, "BP_Hi of the segment used", nullable=True),
            "i_lo": _integer("I_Lo of the segment used", nullable=True),
            "i_hi": _integer("I_Hi of the segment used", nullable=True),
            "index_exact": _number("1", "index before rounding", nullable=True),
            "index": _integer("index, rounded to the nearest integer", nullable=True),
            "rule": _text("the TAD's rule that applied", nullable=True),
        }
    )


EPA_INPUTS = {p.key: p for p in aqi_us.POLLUTANTS}
EPA_ITEMS = {p.key: _epa_item_schema(p.unit) for p in aqi_us.POLLUTANTS if p.key not in ("so2_1h", "so2_24h")}
EPA_ITEMS["so2"] = _epa_item_schema("[ppb]")


def _aqi_epa(**concentrations: float) -> dict[str, Any]:
    return aqi_us.compute(concentrations)


def _nowcast(*, pollutant: str, hourly: list[float | None]) -> dict[str, Any]:
    return aqi_us.nowcast(hourly, pollutant)


# ---- GB 3838 ------------------------------------------------------------------------------------------


def _water(*, water_body: str, target_class: str | None = None, **values: float) -> dict[str, Any]:
    return water.classify(values, water_body, target_class)


def _water_inputs() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "water_body": _text(
            "river, or lake and reservoir (own total phosphorus limits; total nitrogen assessed)",
            enum=list(water.WATER_BODIES),
            default="river",
        ),
        "target_class": _text(
            "class the water should meet: exceedance multiples are given against it", enum=list(water.CLASSES)
        ),
        "ph": _number("[pH]", "pH", minimum=0, maximum=14),
    }
    for p in water.PARAMETERS:
        properties[p.key] = _number(p.unit, p.name, minimum=0)
    return _object(properties, [])


def _water_entry(unit: str) -> dict[str, Any]:
    return _object(
        {
            "name": _text("parameter"),
            "unit": _text("unit"),
            "value": _number(unit, "value as given"),
            "limit": _number(
                unit, "limit of the best class met (none for pH and worse than V)", nullable=True
            ),
            "class": _text("class I-V or worse than V"),
            "class_number": _integer("1-5 for classes I-V, 6 for worse than V"),
            "assessed": {"type": "boolean", "description": "counts toward the water's class"},
            "exceedance_multiple": _number("1", "(C - limit)/limit against the target class", nullable=True),
        }
    )


def _water_outputs() -> dict[str, Any]:
    entries = {"ph": _water_entry("[pH]")} | {p.key: _water_entry(p.unit) for p in water.PARAMETERS}
    return _object(
        {
            "standard": _text("standard applied"),
            "water_body": _text("river or lake_reservoir"),
            "class": _text("the water's class: the worst assessed parameter's"),
            "class_number": _integer("1-5 for classes I-V, 6 for worse than V"),
            "deciding_parameters": _strings("parameters whose class is the water's class"),
            "exceeding_parameters": _strings("parameters worse than the target class"),
            "parameters": _object(entries, []) | {"description": "per parameter: class, limit met"},
        }
    )


ALGORITHMS = (
    Algorithm(
        id="environment.aqi_hj633_2012",
        version="1.0.0",
        title="China AQI, HJ 633-2012",
        description="Air Quality Index per HJ 633-2012 (in force until 2026-02-28): IAQI per indicator "
        "with its breakpoints, AQI, primary and exceedance pollutants, category; daily report"
        " (7 indicators) or hourly real-time report. IAQI rounded up with exact arithmetic.",
        inputs=_cn_inputs((aqi_cn.HJ633_2012,), False),
        outputs=_cn_outputs((aqi_cn.HJ633_2012,), False),
        fn=_aqi_2012,
        tags=("environment", "air-quality", "standard"),
        references=("HJ 633-2012 环境空气质量指数(AQI)技术规定(试行)",),
    ),
    Algorithm(
        id="environment.aqi_hj633_2026",
        version="1.0.0",
        title="China AQI, HJ 633-2026",
        description="Air Quality Index per HJ 633-2026 (in force from 2026-03-01): concentrations rounded"
        " per GB/T 8170, IAQI per indicator (new PM10 and PM2.5 breakpoints), AQI, primary "
        "pollutant, category; daily report (6 indicators) or hourly report (1-hour means; PM "
        "on the 24-hour breakpoints).",
        inputs=_cn_inputs((aqi_cn.HJ633_2026,), False),
        outputs=_cn_outputs((aqi_cn.HJ633_2026,), False),
        fn=_aqi_2026,
        tags=("environment", "air-quality", "standard"),
        references=("HJ 633-2026 环境空气质量指数(AQI)技术规定", "GB/T 8170-2008 数值修约规则"),
    ),
    Algorithm(
        id="environment.aqi_cn",
        version="1.0.0",
        title="China AQI, the standard in force on the data's date",
        description="Chooses HJ 633-2012 for data dated before 2026-03-01 and HJ 633-2026 from then on, "
        "and computes that standard's report; inputs the chosen report does not read are "
        "listed, not used.",
        inputs=_cn_inputs((aqi_cn.HJ633_2012, aqi_cn.HJ633_2026), True),
        outputs=_cn_outputs((aqi_cn.HJ633_2012, aqi_cn.HJ633_2026), True),
        fn=_aqi_by_date,
        tags=("environment", "air-quality", "standard"),
        references=("HJ 633-2012", "HJ 633-2026"),
    ),
    Algorithm(
        id="environment.aqi_us_epa",
        version="1.0.0",
        title="US EPA AQI (2024 revision)",
        description="US Air Quality Index per the EPA Technical Assistance Document EPA-454/B-24-002 (May"
        " 2024): concentrations truncated, sub-index per pollutant with its breakpoints, "
        "rounded to the nearest integer; the AQI is the largest. O3 1-hour and 8-hour, SO2 "
        "1-hour/24-hour rules applied.",
        inputs=_object(
            {k: _number(p.unit, p.description, minimum=0) for k, p in EPA_INPUTS.items()},
            [],
        ),
        outputs=_object(
            {
                "standard": _text("document applied"),
                "aqi": _integer("AQI: the largest sub-index"),
                "category": _text("AQI category"),
                "colour": _text("category colour"),
                "main_pollutants": _strings("pollutants with the largest sub-index"),
                "items": _object(EPA_ITEMS, [])
                | {"description": "per pollutant: truncation, breakpoints, index"},
            }
        ),
        fn=_aqi_epa,
        tags=("environment", "air-quality", "standard"),
        references=("EPA-454/B-24-002 Technical Assistance Document for the Reporting of Daily Air Quality",),
    ),
    Algorithm(
        id="environment.nowcast_epa",
        version="1.0.0",
        title="US EPA PM NowCast",
        description="NowCast of PM2.5 or PM10 from the last 12 hourly means (newest first, null if "
        "missing): weight factor 1 - range/max, at least 0.5; needs 2 of the 3 latest hours; "
        "with its AQI.",
        inputs=_object(
            {
                "pollutant": _text("pm2_5 or pm10", enum=["pm2_5", "pm10"]),
                "hourly": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": aqi_us.NOWCAST_HOURS,
                    "items": _number("ug/m3", "hourly mean, newest first; null when missing", nullable=True),
                    "description": "hourly means of the last 12 hours, index 0 = the current hour",
                },
            }
        ),
        outputs=_object(
            {
                "pollutant": _text("pm2_5 or pm10"),
                "nowcast": _number("ug/m3", "the NowCast concentration"),
                "scaled_rate_of_change": _number("1", "(max - min) / max over the valid hours"),
                "weight_factor": _number("1", "w = 1 - scaled rate of change, at least 0.5"),
                "hours_used": _integer("valid hours in the window"),
                "truncated": _number("ug/m3", "NowCast truncated for the AQI"),
                "aqi": _integer("AQI of the NowCast"),
                "category": _text("AQI category"),
                "colour": _text("category colour"),
            }
        ),
        fn=_nowcast,
        tags=("environment", "air-quality", "standard"),
        references=("EPA-454/B-24-002, How the NowCast is calculated",),
    ),
    Algorithm(
        id="environment.water_class_gb3838",
        version="1.0.0",
        title="Surface-water class, GB 3838-2002",
        description="Class I-V or worse than V per basic item of GB 3838-2002 Table 1 and overall (the "
        "worst assessed parameter decides); rivers or lakes and reservoirs; exceedance "
        "multiples against a target class.",
        inputs=_water_inputs(),
        outputs=_water_outputs(),
        fn=_water,
        tags=("environment", "water-quality", "standard"),
        references=("GB 3838-2002 地表水环境质量标准, Table 1",),
    ),
)
