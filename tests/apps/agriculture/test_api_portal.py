"""The agriculture API and portal pages over HTTP: problems with paths, CSRF, the public QR page."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import text

from iplus.access.registry import DeviceSpec
from iplus.apps.agriculture.fields import FieldParams
from tests.api.helpers import PASSWORD, assert_problem
from tests.apps.agriculture.conftest import (
    DAY_0,
    T0,
    Farmland,
    api_client,
    device_types,
    example_18_hours,
    make_farm,
    station_day,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PARAMS = FieldParams(0.30, 0.12, 0.5, 0.5, 1.1, efficiency=0.8, application_rate=10.0, crop="maize")


async def person(land: Farmland, client: httpx.AsyncClient) -> dict[str, str]:
    await land.ctx.accounts.create_user(
        org_id=land.p.org_id, email="grower@farm.test", name="Grower", password=PASSWORD, is_admin=True
    )
    r = await client.post("/api/v1/auth/token", data={"username": "grower@farm.test", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def portal_login(client: httpx.AsyncClient) -> None:
    token = CSRF.search((await client.get("/login")).text)
    assert token
    r = await client.post(
        "/login", data={"email": "grower@farm.test", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert r.status_code == 303


async def csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found
    return found.group(1)


async def test_farms_fields_decisions_and_batches_over_the_api(land: Farmland) -> None:
    async with api_client(land.ctx) as client:
        auth = await person(land, client)
        await device_types(land)
        await land.ctx.registry.create_devices(
            land.p,
            [DeviceSpec("agri-weather-station", "St", "st-1"), DeviceSpec("agri-soil-probe", "Pr", "pr-1")],
        )
        r = await client.post(
            "/api/v1/agriculture/farms",
            headers=auth,
            json={
                "title": "Farm",
                "latitude": 50.8,
                "longitude": 4.35,
                "altitude": 100,
                "station_device": "st-1",
            },
        )
        assert r.status_code == 201, r.text
        farm_id = r.json()["id"]
        bad = {
            "title": "Plot",
            "farm_id": farm_id,
            "theta_fc": 0.2,
            "theta_wp": 0.3,
            "root_depth": 12,
            "p_table": 0.5,
            "kc": 1.0,
            "area_ha": -1,
        }
        body = assert_problem(await client.post("/api/v1/agriculture/fields", headers=auth, json=bad), 422)
        assert body["errors"] == [
            "/root_depth: 12 is outside (0, 10] (Zr, rooting depth (m))",
            "/theta_wp: must be below theta_fc",
            "/area_ha: a positive area",
        ]
        good = {
            **bad,
            "theta_fc": 0.30,
            "theta_wp": 0.12,
            "root_depth": 0.5,
            "kc": 1.1,
            "area_ha": 2.0,
            "probe_device": "pr-1",
            "crop": "maize",
        }
        r = await client.post("/api/v1/agriculture/fields", headers=auth, json=good)
        assert r.status_code == 201, r.text
        field = r.json()
        assert field["taw"] == 90.0 and field["probe_id"] == "pr-1" and field["station_id"] == "st-1"
        assert field["latest_decision"] is None and field["problems"] == []
        await land.write("pr-1", {"soil_moisture": 0.25}, T0 - timedelta(minutes=1))
        await station_day(land, DAY_0, example_18_hours(), T0, station="st-1")
        r = await client.post(f"/api/v1/agriculture/fields/{field['id']}/decisions", headers=auth, json={})
        assert r.status_code == 200, r.text
        decision = r.json()
        assert (
            decision["day"] == DAY_0.isoformat() and not decision["irrigate"] and decision["command"] is None
        )
        assert abs(decision["et0"]["et0"] - 3.9) < 0.05
        assert (await client.get(f"/api/v1/agriculture/decisions/{decision['id']}", headers=auth)).json()[
            "id"
        ] == decision["id"]
        listed = (
            await client.get(f"/api/v1/agriculture/fields/{field['id']}/decisions", headers=auth)
        ).json()
        assert [d["id"] for d in listed] == [decision["id"]]
        [view] = (await client.get("/api/v1/agriculture/fields", headers=auth)).json()
        assert view["latest_decision"]["id"] == decision["id"] and view["state"]["soil_moisture"] == 0.25
        assert_problem(
            await client.post(
                f"/api/v1/agriculture/fields/{field['id']}/decisions",
                headers=auth,
                json={"day": "2026-01-01"},
            ),
            422,
        )

        harvest = {"kind": "harvest", "actor": "Crew", "location": "Plot", "data": {"kg": 500}}
        r = await client.post(
            "/api/v1/agriculture/batches",
            headers=auth,
            json={"product": "Corn", "quantity": 500, "field_id": field["id"], "harvest": harvest},
        )
        assert r.status_code == 201, r.text
        batch = r.json()
        assert (
            batch["verification"]["ok"] and batch["trace_url"] == f"http://testserver/trace/{batch['code']}"
        )
        r = await client.post(
            f"/api/v1/agriculture/batches/{batch['id']}/steps",
            headers=auth,
            json={"kind": "shelf", "actor": "Shop"},
        )
        assert r.status_code == 201 and r.json()["seq"] == 2
        body = assert_problem(
            await client.post(
                f"/api/v1/agriculture/batches/{batch['id']}/steps",
                headers=auth,
                json={"kind": "transport", "actor": "Van"},
            ),
            422,
        )
        assert body["errors"] == ["/kind: the batch is on the shelf: its record is closed"]
        assert (await client.get(f"/api/v1/agriculture/batches/{batch['id']}/verify", headers=auth)).json()[
            "ok"
        ]
        qr = await client.get(f"/api/v1/agriculture/batches/{batch['id']}/qr.svg", headers=auth)
        assert qr.headers["content-type"].startswith("image/svg+xml") and batch["code"] in qr.text
        # the public look-up needs no credentials and shows no internal ids
        public = await client.get(f"/api/v1/trace/{batch['code']}")
        assert public.status_code == 200
        assert (
            public.json()["field"] == "Plot"
            and "id" not in public.json()
            and public.json()["verification"]["ok"]
        )
        assert_problem(await client.get("/api/v1/trace/0000000000000000"), 404)
        assert (await client.get("/api/v1/agriculture/batches", headers=auth)).json()[0]["code"] == batch[
            "code"
        ]
        assert_problem(await client.get("/api/v1/agriculture/batches"), 401)
        other = await land.ctx.accounts.create_organisation("Elsewhere", ["user"])
        await land.ctx.accounts.create_user(
            org_id=other.id, email="x@else.test", name="X", password=PASSWORD, is_admin=True
        )
        r = await client.post("/api/v1/auth/token", data={"username": "x@else.test", "password": PASSWORD})
        stranger = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert_problem(await client.get(f"/api/v1/agriculture/batches/{batch['id']}", headers=stranger), 404)
        assert_problem(
            await client.post(
                f"/api/v1/agriculture/fields/{field['id']}/decisions", headers=stranger, json={}
            ),
            404,
        )


async def test_portal_pages_decide_with_csrf_and_the_public_trace_page(land: Farmland) -> None:
    _, field_id = await make_farm(land, PARAMS)
    await land.write("probe-1", {"soil_moisture": 0.16}, T0 - timedelta(minutes=1))
    await station_day(land, DAY_0, example_18_hours(), T0)
    async with api_client(land.ctx) as client:
        await person(land, client)
        await portal_login(client)
        page = await client.get("/portal/agriculture")
        assert page.status_code == 200 and "Plot A" in page.text and "Decide now" in page.text
        assert DAY_0.isoformat() in page.text  # the station's complete day
        refused = await client.post(f"/portal/agriculture/fields/{field_id}/decide", data={})
        assert refused.status_code == 403
        token = await csrf(client, "/portal/agriculture")
        made = await client.post(f"/portal/agriculture/fields/{field_id}/decide", data={"csrf_token": token})
        assert made.status_code == 303
        decision_page = await client.get(made.headers["location"])
        assert decision_page.status_code == 200
        assert "Irrigate" in decision_page.text and 'id="command-status"' in decision_page.text
        assert 'http-equiv="refresh"' in decision_page.text  # nobody answers for the valve: still delivered
        assert (await client.get(f"/portal/agriculture/fields/{field_id}")).status_code == 200
        pools = await client.get("/portal/pools", params={"kind": "resource", "type": "field"})
        assert pools.status_code == 200 and "Plot A" in pools.text

        token = await csrf(client, "/portal/agriculture/batches")
        made = await client.post(
            "/portal/agriculture/batches",
            data={
                "product": "Sweet corn",
                "actor": "Crew 2",
                "quantity": "900",
                "field_id": field_id,
                "at": "2026-07-01T08:00",
                "data": "grade: A\npicked: hand",
                "csrf_token": token,
            },
        )
        assert made.status_code == 303, made.text
        batch_path = made.headers["location"]
        token = await csrf(client, batch_path)
        step = await client.post(
            f"{batch_path}/steps",
            data={"kind": "transport", "actor": "Cold chain", "data": "no colon", "csrf_token": token},
        )
        assert step.status_code == 422 and "key: value" in step.text
        step = await client.post(
            f"{batch_path}/steps", data={"kind": "transport", "actor": "Cold chain", "csrf_token": token}
        )
        assert step.status_code == 303
        page = await client.get(batch_path)
        assert "The hash chain verifies: 2 steps" in page.text and "<svg" in page.text
        code = re.search(r"/trace/([0-9a-z]{16})", page.text)
        assert code
    async with api_client(land.ctx) as anonymous:  # the QR code's page: no login
        public = await anonymous.get(f"/trace/{code.group(1)}")
        assert public.status_code == 200 and "Verified" in public.text and "Sweet corn" in public.text
        assert "grade: A" in public.text and "Plot A" in public.text
        missing = await anonymous.get("/trace/0000000000000000")
        assert missing.status_code == 404 and "Unknown code" in missing.text
        assert (await anonymous.get("/trace/not-a-code")).status_code == 404
        async with land.ctx.db.engine.begin() as conn:
            await conn.execute(text("UPDATE agri_trace_steps SET actor = 'Someone else' WHERE seq = 1"))
        tampered = await anonymous.get(f"/trace/{code.group(1)}")
        assert (
            "Not verified" in tampered.text and "step 1: its content does not match its hash" in tampered.text
        )
        assert (await anonymous.get("/portal/agriculture")).status_code == 303  # the dashboard needs a login


async def test_a_field_with_broken_parameters_is_shown_with_its_problems(land: Farmland) -> None:
    from iplus.infra.db.models_virtual import VirtualThing

    _, field_id = await make_farm(land, PARAMS)
    async with land.ctx.db.transaction() as s:
        row = await s.get(VirtualThing, field_id)
        assert row is not None
        row.attributes = {**row.attributes, "theta_wp": 0.5}
    async with api_client(land.ctx) as client:
        auth = await person(land, client)
        [view] = (await client.get("/api/v1/agriculture/fields", headers=auth)).json()
        assert view["problems"] == [
            "the field's parameters are not valid",
            "/attributes/theta_wp: must be below theta_fc",
        ]
        await portal_login(client)
        for path in ("/portal/agriculture", f"/portal/agriculture/fields/{field_id}"):
            page = await client.get(path)
            assert page.status_code == 200 and "/attributes/theta_wp: must be below theta_fc" in page.text
