"""The analytics API: queries against brute force, formats, tenancy attacks, jobs and downloads."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict

import httpx
import pyarrow.parquet as pq
import pytest

from tests.api.helpers import assert_problem
from tests.batch.conftest import Tenants

PER_DEVICE = (
    "SELECT device_id, count(*) AS n, avg(value_num) AS mean FROM readings "
    "WHERE key = $1 GROUP BY device_id ORDER BY device_id"
)


def brute_per_device(t: Tenants, org_id: str) -> list[tuple[str, int, float]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for device, key, _, value in t.numbers(org_id):
        if key == "flow":
            groups[device].append(value)
    return [(d, len(v), statistics.fmean(v)) for d, v in sorted(groups.items())]


async def test_query_json_matches_brute_force(client: httpx.AsyncClient, tenants: Tenants) -> None:
    r = await client.post(
        "/api/v1/analytics/query", json={"sql": PER_DEVICE, "params": ["flow"]}, headers=tenants.a.auth
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["device_id", "n", "mean"]
    expect = brute_per_device(tenants, tenants.a.org_id)
    assert [(d, n) for d, n, _ in body["rows"]] == [(d, n) for d, n, _ in expect]
    assert [m for _, _, m in body["rows"]] == pytest.approx([m for _, _, m in expect], rel=1e-12)
    assert body["row_count"] == 3 and body["truncated"] is False
    # the other tenant, same SQL: only its own device
    r = await client.post(
        "/api/v1/analytics/query", json={"sql": PER_DEVICE, "params": ["flow"]}, headers=tenants.b.auth
    )
    assert [row[0] for row in r.json()["rows"]] == ["b-secret"]


async def test_query_as_csv_and_parquet(client: httpx.AsyncClient, tenants: Tenants) -> None:
    sql = "SELECT device_id, ts, value_num FROM readings ORDER BY ts, device_id"
    expect = sorted((ts, d, v) for d, _, ts, v in tenants.numbers(tenants.a.org_id))
    r = await client.post(
        "/api/v1/analytics/query",
        json={"sql": sql, "limit": 1000},
        headers={**tenants.a.auth, "Accept": "text/csv"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["device_id", "ts", "value_num"]
    assert [(row[1], row[0], float(row[2])) for row in rows[1:]] == [
        (ts.isoformat(), d, v) for ts, d, v in expect
    ]
    r = await client.post(
        "/api/v1/analytics/query",
        json={"sql": sql, "limit": 1000},
        headers={**tenants.a.auth, "Accept": "application/vnd.apache.parquet"},
    )
    table = pq.read_table(io.BytesIO(r.content))
    assert table.column("value_num").to_pylist() == [v for _, _, v in expect]
    assert table.column("device_id").to_pylist() == [d for _, d, _ in expect]


HOSTILE = [
    ("SELECT * FROM latest", "not available"),
    ("SELECT * FROM main.readings", "schema-qualified"),
    ("SELECT * FROM read_parquet('x.parquet')", "not allowed"),
    ("DELETE FROM readings", "only SELECT"),
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("SELECT nope FROM readings", "nope"),  # the database's own message
    ("SELEC 1", "syntax"),
]


async def test_bad_or_hostile_sql_is_a_422_problem(client: httpx.AsyncClient, tenants: Tenants) -> None:
    for sql, says in HOSTILE:
        r = await client.post("/api/v1/analytics/query", json={"sql": sql}, headers=tenants.a.auth)
        body = assert_problem(r, 422)
        assert says in str(body["detail"]), (sql, body)


async def test_query_needs_credentials(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/analytics/query", json={"sql": "SELECT 1"})
    assert_problem(r, 401)


async def test_query_job_runs_on_the_process_pool_and_downloads(
    client: httpx.AsyncClient, tenants: Tenants
) -> None:
    a = tenants.a.auth
    r = await client.post(
        "/api/v1/analytics/jobs",
        json={"name": "per device", "sql": PER_DEVICE, "params": ["flow"], "format": "csv"},
        headers=a,
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["kind"] == "query" and job["next_run_at"] is None
    run = (await client.post(f"/api/v1/analytics/jobs/{job['id']}/run", headers=a)).json()
    assert run["status"] == "succeeded", run
    assert run["rows"] == 3 and run["finished_at"] and run["duration_ms"] > 0
    out = await client.get(run["output_url"], headers=a)
    assert out.status_code == 200 and out.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(out.text)))
    expect = brute_per_device(tenants, tenants.a.org_id)
    assert [(row[0], int(row[1])) for row in rows[1:]] == [(d, n) for d, n, _ in expect]
    assert [float(row[2]) for row in rows[1:]] == pytest.approx([m for _, _, m in expect], rel=1e-12)
    runs = (await client.get(f"/api/v1/analytics/jobs/{job['id']}/runs", headers=a)).json()
    assert [x["id"] for x in runs] == [run["id"]]
    # another tenant sees neither the job, nor the run, nor its file
    b = tenants.b.auth
    assert_problem(await client.get(f"/api/v1/analytics/jobs/{job['id']}", headers=b), 404)
    assert_problem(await client.post(f"/api/v1/analytics/jobs/{job['id']}/run", headers=b), 404)
    assert_problem(await client.get(run["output_url"], headers=b), 404)
    assert (await client.get("/api/v1/analytics/jobs", headers=b)).json() == []


async def test_parquet_export_of_a_selection_reads_back_equal(
    client: httpx.AsyncClient, tenants: Tenants
) -> None:
    a = tenants.a.auth
    selection = {"device_ids": ["pump-1"], "keys": ["flow"]}
    r = await client.post(
        "/api/v1/analytics/jobs",
        json={"name": "pump-1 export", "selection": selection, "format": "parquet", "schedule": "0 3 * * *"},
        headers=a,
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["kind"] == "export" and job["next_run_at"].endswith(("03:00:00Z", "03:00:00+00:00"))
    run = (await client.post(f"/api/v1/analytics/jobs/{job['id']}/run", headers=a)).json()
    assert run["status"] == "succeeded", run
    table = pq.read_table(io.BytesIO((await client.get(run["output_url"], headers=a)).content))
    expect = sorted((ts, v) for d, _, ts, v in tenants.numbers(tenants.a.org_id) if d == "pump-1")
    got = list(zip(table.column("ts").to_pylist(), table.column("num").to_pylist(), strict=True))
    assert [(ts.replace(tzinfo=None), v) for ts, v in got] == [
        (ts.replace(tzinfo=None), v) for ts, v in expect
    ]
    assert run["rows"] == len(expect)


async def test_job_validation_update_and_delete(client: httpx.AsyncClient, tenants: Tenants) -> None:
    a = tenants.a.auth
    for body, says in [
        ({"name": "x", "sql": "SELECT 1", "schedule": "every minute"}, "cron"),
        ({"name": "x", "sql": "SELECT * FROM latest"}, "not available"),
        ({"name": "x"}, "either sql"),
        ({"name": "x", "sql": "SELECT 1", "selection": {}}, "either sql"),
        ({"name": "x", "selection": {"start": "yesterday"}}, "ISO 8601"),
    ]:
        problem = assert_problem(await client.post("/api/v1/analytics/jobs", json=body, headers=a), 422)
        assert says in str(problem["detail"])
    job = (
        await client.post("/api/v1/analytics/jobs", json={"name": "bad", "sql": "SELECT 1/0 AS x"}, headers=a)
    ).json()
    run = (await client.post(f"/api/v1/analytics/jobs/{job['id']}/run", headers=a)).json()
    # 1/0 is NULL in DuckDB (no error): a job whose SQL fails at run time is recorded as failed
    assert run["status"] == "succeeded" and run["rows"] == 1
    r = await client.put(
        f"/api/v1/analytics/jobs/{job['id']}",
        json={"name": "bad", "sql": "SELECT CAST('x' AS INTEGER) AS y"},
        headers=a,
    )
    assert r.status_code == 200
    run = (await client.post(f"/api/v1/analytics/jobs/{job['id']}/run", headers=a)).json()
    assert run["status"] == "failed" and "Could not convert" in run["error"] and run["output_url"] is None
    assert (await client.delete(f"/api/v1/analytics/jobs/{job['id']}", headers=a)).status_code == 204
    assert_problem(await client.get(f"/api/v1/analytics/runs/{run['id']}", headers=a), 404)
