"""QoS data in the QWS format (Al-Masri and Mahmoud): reading it, generating look-alikes, and options from it.

QWS v2 has eleven comma-separated columns per line: Response Time (ms), Availability (%), Throughput
(invocations/s), Successability (%), Reliability (%), Compliance (%), Best Practices (%), Latency (ms),
Documentation (%), Service Name, WSDL Address. QWS v1 adds WsRF and Service Classification after
Documentation. Lines starting with '#' are comments. The data set itself is never committed here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from iplus.core.errors import InvalidInput
from iplus.platform.systems.aggregate import Option

QOS_COLUMNS = (
    "response_time_ms",
    "availability_pct",
    "throughput",
    "successability_pct",
    "reliability_pct",
    "compliance_pct",
    "best_practices_pct",
    "latency_ms",
    "documentation_pct",
)
PERCENT = frozenset(c for c in QOS_COLUMNS if c.endswith("_pct"))
HEADER_V2 = (
    "# Response Time, Availability, Throughput, Successability, Reliability, Compliance, "
    "Best Practices, Latency, Documentation, Service Name, WSDL Address"
)
HEADER_V1 = (
    "# Response Time, Availability, Throughput, Successability, Reliability, Compliance, "
    "Best Practices, Latency, Documentation, WsRF, Service Classification, Service Name, WSDL Address"
)
MAX_PROBLEMS = 50
# the quality index of a middling QWS service: it costs the base price
TYPICAL_QUALITY = 0.82


@dataclass(frozen=True)
class QwsRecord:
    """One web service's measured QoS, in the data set's own units."""

    response_time_ms: float
    availability_pct: float
    throughput: float
    successability_pct: float
    reliability_pct: float
    compliance_pct: float
    best_practices_pct: float
    latency_ms: float
    documentation_pct: float
    name: str
    wsdl: str
    wsrf: float | None = None
    classification: int | None = None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _record(fields: list[str]) -> tuple[QwsRecord | None, str]:
    values = [_float(f) for f in fields[:9]]
    if len(fields) < 11:
        return None, f"{len(fields)} columns, expected 11 (QWS v2) or 13 (QWS v1)"
    for column, value in zip(QOS_COLUMNS, values, strict=True):
        if value is None or value < 0:
            return None, f"{column}: a number at least 0"
        if column in PERCENT and value > 100:
            return None, f"{column}: a percentage from 0 to 100"
    # v1's two extra columns are numbers; a service name never is (so a comma in a WSDL address is safe)
    extra = [_float(f) for f in fields[9:11]] if len(fields) >= 13 else [None, None]
    wsrf, cls = extra if None not in extra else (None, None)
    rest = fields[11:] if wsrf is not None else fields[9:]
    name, wsdl = rest[0].strip(), ",".join(rest[1:]).strip()
    if not name:
        return None, "service name: required"
    if cls is not None and cls != int(cls):
        return None, "service classification: a whole number"
    qos = dict(zip(QOS_COLUMNS, values, strict=True))
    return (
        QwsRecord(
            **{k: float(v) for k, v in qos.items() if v is not None},
            name=name,
            wsdl=wsdl,
            wsrf=wsrf,
            classification=None if cls is None else int(cls),
        ),
        "",
    )


def parse_qws(text: str) -> list[QwsRecord]:
    """Records from QWS text (v1 or v2, told apart line by line); every bad line named with its number."""
    records: list[QwsRecord] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        record, why = _record([f.strip() for f in stripped.split(",")])
        if record is None:
            problems.append(f"line {number}: {why}")
        else:
            records.append(record)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        raise InvalidInput("the QWS data is not valid", errors=shown)
    return records


def load_qws(path: str | Path) -> list[QwsRecord]:
    """Records from a QWS file (the data set's files are Latin-1 text)."""
    return parse_qws(Path(path).read_text(encoding="latin-1"))


def qws_text(records: Iterable[QwsRecord], version: int = 2) -> str:
    """QWS text for records: the v2 columns, or v1's with WsRF and classification (0 when unknown)."""
    lines = [HEADER_V1 if version == 1 else HEADER_V2]
    for r in records:
        qos = [f"{getattr(r, c):g}" for c in QOS_COLUMNS]
        extra = [f"{r.wsrf or 0:g}", str(r.classification or 0)] if version == 1 else []
        lines.append(",".join([*qos, *extra, r.name, r.wsdl]))
    return "\n".join(lines) + "\n"


def write_qws(records: Iterable[QwsRecord], path: str | Path, version: int = 2) -> None:
    """Write records as a QWS file."""
    Path(path).write_text(qws_text(records, version), encoding="latin-1")


def _pct(x: float) -> float:
    return round(min(100.0, max(0.0, x)), 0)


def generate_qws(n: int, seed: int = 0) -> list[QwsRecord]:
    """``n`` plausible QWS v2 records: heavy-tailed response time and latency, skewed percentages.

    The shapes follow the published QWS v2 summary (response time 37-4989 ms with a median near 200,
    availability and successability mostly 80-100 %, reliability 33-89 %), not the data itself.
    """
    rng = random.Random(seed)  # noqa: S311 - a seeded look-alike data set, not a secret
    records = []
    for i in range(n):
        latency = min(4140.0, math.exp(rng.gauss(math.log(12), 1.4)) + 0.25)
        # response time includes the latency plus a log-normal service time: a heavy right tail
        response = min(4989.0, latency + math.exp(rng.gauss(math.log(180), 0.8)) + 37)
        availability = _pct(100 * rng.betavariate(9, 1.3))
        successability = _pct(availability + rng.gauss(2, 4))
        records.append(
            QwsRecord(
                response_time_ms=round(response, 2),
                availability_pct=availability,
                throughput=round(min(43.1, rng.gammavariate(1.6, 5.0) + 0.1), 1),
                successability_pct=successability,
                reliability_pct=float(33 + round(56 * rng.betavariate(4, 2.2))),
                compliance_pct=_pct(100 * rng.betavariate(7, 1)),
                best_practices_pct=_pct(100 * rng.betavariate(5, 1.5)),
                latency_ms=round(latency, 2),
                documentation_pct=_pct(100 * rng.betavariate(1.1, 2.2)),
                name=f"GeneratedService{i:05d}",
                wsdl=f"http://services.example.org/s{i:05d}?wsdl",
            )
        )
    return records


def quality(r: QwsRecord) -> float:
    """A quality index in [0, 1]: availability, reliability and successability, and speed."""
    speed = 1.0 - min(1.0, r.response_time_ms / 2000.0)
    return 0.25 * (r.availability_pct + r.reliability_pct + r.successability_pct) / 100 + 0.25 * speed


def price(r: QwsRecord, seed: int = 0, base: float = 100.0) -> float:
    """A price for a record (QWS has none): rising with quality, times seeded log-normal noise.

    Better service costs more, as in a market, so cost and the other criteria pull against each other.
    """
    rng = random.Random(f"{seed}:{r.name}:{r.wsdl}")  # noqa: S311 - seeded noise, not a secret
    # quality varies little between services (most are 80-100 % available): a steep power spreads prices
    return round(base * (quality(r) / TYPICAL_QUALITY) ** 4 * rng.lognormvariate(0, 0.15), 2)


def options_from_qws(
    records: Iterable[QwsRecord],
    *,
    org_id: str = "qws",
    seed: int = 0,
    hours_per_ms: float = 1 / 3_600_000,
    base_price: float = 100.0,
    prefix: str = "qws",
) -> list[Option]:
    """Candidate options from QWS records.

    Response time becomes ``time_h`` (``hours_per_ms`` scales it: a ms is 1/3,600,000 h by default),
    availability and reliability are divided by 100, reputation is successability / 100 (the share of
    requests answered: evidence of past success), and the price comes from ``price``.
    """
    out = []
    for i, r in enumerate(records):
        out.append(
            Option(
                offer_id=f"{prefix}-{i}",
                version=1,
                org_id=org_id,
                title=r.name,
                time_h=r.response_time_ms * hours_per_ms,
                cost=price(r, seed, base_price),
                reliability=r.reliability_pct / 100,
                availability=r.availability_pct / 100,
                reputation=r.successability_pct / 100,
            )
        )
    return out
