"""QWS files: both versions read, bad lines named, the generator's shapes, and options from records."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from iplus.core.errors import InvalidInput
from iplus.platform.systems.qws import (
    QwsRecord,
    generate_qws,
    load_qws,
    options_from_qws,
    parse_qws,
    quality,
    write_qws,
)

# hand-written in the data set's layout: a v2 line, a v1 line (WsRF and classification), comments,
# a blank line and a WSDL address holding a comma
SAMPLE = """\
# QWS Dataset v2.0 -- sample in the published layout
#   Response Time, Availability, Throughput, Successability, Reliability, Compliance, Best Practices, Latency, Documentation, Service Name, WSDL Address
302.75,89,7.1,90,73,78,80,187.75,32,MAPPMatching,http://xml.assessment.com/service/MAPPMatching.asmx?wsdl

482,85,16,95,73,100,84,1,2,Compound2,http://www.mssoapinterop.org/asmx/WSDL/compound2.wsdl
126.17,98,12,100,67,78,82,22.77,89,71.75,2,GBNIRHolidayDates,http://www.holidaywebservice.com/Holidays/GBNIR.asmx?WSDL
107,87,1.9,95,73,89,62,58.33,93,Q,http://example.org/q?a=1,b=2
"""


def test_both_versions_and_comments_are_read(tmp_path: Path) -> None:
    path = tmp_path / "qws.txt"
    path.write_text(SAMPLE, encoding="latin-1")
    records = load_qws(path)
    assert [r.name for r in records] == ["MAPPMatching", "Compound2", "GBNIRHolidayDates", "Q"]
    first = records[0]
    assert first == QwsRecord(
        302.75,
        89,
        7.1,
        90,
        73,
        78,
        80,
        187.75,
        32,
        "MAPPMatching",
        "http://xml.assessment.com/service/MAPPMatching.asmx?wsdl",
    )
    v1 = records[2]
    assert (v1.wsrf, v1.classification, v1.documentation_pct) == (71.75, 2, 89)
    assert v1.wsdl == "http://www.holidaywebservice.com/Holidays/GBNIR.asmx?WSDL"
    assert records[3].wsdl == "http://example.org/q?a=1,b=2"


def test_every_bad_line_is_named() -> None:
    text = "1,2,3\n302,89,7,90,73,78,80,187,32,,x\n302,189,7,90,73,78,80,187,32,N,x\n-1,89,7,90,73,78,80,187,32,N,x\n"
    with pytest.raises(InvalidInput) as err:
        parse_qws(text)
    assert err.value.extra["errors"] == [
        "line 1: 3 columns, expected 11 (QWS v2) or 13 (QWS v1)",
        "line 2: service name: required",
        "line 3: availability_pct: a percentage from 0 to 100",
        "line 4: response_time_ms: a number at least 0",
    ]


def test_generated_records_round_trip_through_a_file(tmp_path: Path) -> None:
    records = generate_qws(300, seed=5)
    assert generate_qws(300, seed=5) == records and generate_qws(300, seed=6) != records
    write_qws(records, tmp_path / "v2.txt")
    assert load_qws(tmp_path / "v2.txt") == records
    write_qws(records[:10], tmp_path / "v1.txt", version=1)
    again = load_qws(tmp_path / "v1.txt")
    assert [r.name for r in again] == [r.name for r in records[:10]]
    assert all(r.classification == 0 for r in again)


def test_generated_shapes_are_plausible() -> None:
    records = generate_qws(3000, seed=1)
    rt = [r.response_time_ms for r in records]
    # the published v2 ranges, and a heavy right tail: the mean well above the median, a far maximum
    assert min(rt) >= 37 and max(rt) <= 4989
    assert statistics.mean(rt) > 1.15 * statistics.median(rt) and max(rt) > 8 * statistics.median(rt)
    for column in ("availability_pct", "successability_pct", "compliance_pct", "best_practices_pct"):
        values = [getattr(r, column) for r in records]
        assert 0 <= min(values) and max(values) <= 100
        assert 70 < statistics.median(values) < 100
    rel = [r.reliability_pct for r in records]
    assert 33 <= min(rel) and max(rel) <= 89
    assert all(r.latency_ms < r.response_time_ms for r in records)


def test_options_map_units_and_price_rises_with_quality() -> None:
    records = generate_qws(2000, seed=2)
    options = options_from_qws(records, seed=9, hours_per_ms=1 / 60_000)
    first, r = options[0], records[0]
    assert first.time_h == pytest.approx(r.response_time_ms / 60_000)
    assert first.availability == r.availability_pct / 100 and first.reliability == r.reliability_pct / 100
    assert first.reputation == r.successability_pct / 100 and first.title == r.name
    assert all(o.cost > 0 for o in options)
    assert options_from_qws(records, seed=9) != options_from_qws(records, seed=10)
    assert [o.cost for o in options_from_qws(records, seed=9)] == [o.cost for o in options]
    ranks_q = np.argsort(np.argsort([quality(x) for x in records]))
    ranks_p = np.argsort(np.argsort([o.cost for o in options]))
    assert np.corrcoef(ranks_q, ranks_p)[0, 1] > 0.5
