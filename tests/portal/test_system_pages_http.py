"""Service-system portal pages over HTTP: builder, plan, run, provider tasks, operator view; every form error."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from iplus.core.roles import Role, Scope
from iplus.platform.context import Context
from iplus.security.principal import Principal
from tests.api.helpers import PASSWORD
from tests.portal.test_portal_http import _csrf, _login
from tests.systems.helpers import offer, publish, requirement, task

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _tenant(ctx: Context, name: str, role: Role) -> tuple[str, Principal]:
    """An organisation with one admin: the e-mail to log in with and a principal to act for it directly."""
    org = await ctx.accounts.create_organisation(name, [role.value])
    email = f"{name.lower().replace(' ', '-')}@systems.test"
    user = await ctx.accounts.create_user(
        org_id=org.id, email=email, name=name, password=PASSWORD, is_admin=True
    )
    principal = Principal(
        org_id=org.id,
        roles=frozenset({role}),
        scopes=frozenset({Scope.READ, Scope.WRITE}),
        user_id=user.user.id,
    )
    return email, principal


async def _as(client: httpx.AsyncClient, email: str) -> None:
    client.cookies.clear()
    await _login(client, email)


def _text(page: httpx.Response) -> str:
    """The page's text with entities decoded, as a person reads it."""
    return html.unescape(page.text)


async def _world(ctx: Context) -> dict[str, Any]:
    """A user, a bystander, an operator, and two millers: 'Good' beats 'Spare' on every attribute."""
    user, _ = await _tenant(ctx, "Buyer", Role.USER)
    other, _ = await _tenant(ctx, "Bystander", Role.USER)
    operator, _ = await _tenant(ctx, "Platform Ops", Role.OPERATOR)
    provider, p = await _tenant(ctx, "Mill Co", Role.PROVIDER)
    good = await publish(ctx.offers, p, offer("Good milling", price=50, time=1, rel=0.99, avail=0.99))
    spare = await publish(ctx.offers, p, offer("Spare milling", price=80, time=2, rel=0.9, avail=0.95))
    inspect = await publish(ctx.offers, p, offer("Inspection", "quality_inspection", price=20, time=0.5))
    return {
        "user": user,
        "other": other,
        "operator": operator,
        "provider": provider,
        "good": good,
        "spare": spare,
        "inspect": inspect,
    }


GOOD_REQ = requirement(
    task("rough"),
    task("check", "quality_inspection"),
    name="Bracket",
    deadline_h=12,
    budget=500,
    currency="EUR",
)


async def _construct(client: httpx.AsyncClient, doc: Any) -> httpx.Response:
    token = await _csrf(client, "/portal/systems/new")
    body = doc if isinstance(doc, str) else json.dumps(doc)
    return await client.post("/portal/systems", data={"requirement": body, "csrf_token": token})


async def test_builder_refuses_with_every_problem_and_plans_a_good_requirement(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    w = await _world(ctx)
    await _as(client, w["user"])
    empty = await client.get("/portal/systems")
    assert empty.status_code == 200 and "No systems yet" in empty.text
    builder = await client.get("/portal/systems/new")
    assert builder.status_code == 200 and 'id="builder-tree"' in builder.text
    assert "milling" in builder.text and "/static/systems.js" in builder.text

    refused = await client.post("/portal/systems", data={"requirement": json.dumps(GOOD_REQ)})
    assert refused.status_code == 403
    not_json = await _construct(client, '{"name": "x",')
    assert not_json.status_code == 422 and "requirement: not JSON" in not_json.text
    nothing = await _construct(client, "  ")
    assert nothing.status_code == 422 and "requirement: build the task graph" in nothing.text

    bad = {
        "name": "",
        "graph": {
            "sequence": [
                {"task": {"id": "Cut!", "capability": "milling"}},
                {"choice": [{"p": 0.5, "do": {"task": {"id": "b", "capability": "milling"}}}]},
                {"loop": {"count": 0, "do": {"task": {"id": "c", "capability": "milling"}}}},
            ]
        },
        "constraints": {"budget": 100},
    }
    page = await _construct(client, bad)
    assert page.status_code == 422
    listed = re.findall(r"<li>([^<]*)</li>", page.text.split('id="builder-errors"')[1].split("</ul>")[0])
    prefixes = [
        "name:",
        "graph/sequence/0/task/id:",
        "graph/sequence/1/choice:",
        "graph/sequence/2/loop/count:",
    ]
    for prefix in [*prefixes, "constraints/currency:"]:
        assert sum(html.unescape(e).startswith(prefix) for e in listed) == 1, (prefix, listed)
    assert len(listed) == 5
    # the refused JSON stays in the page to be mended, and nothing was stored
    assert (
        json.loads(
            html.unescape(page.text.split('id="builder-json"')[1].split(">", 1)[1].split("</textarea>")[0])
        )
        == bad
    )
    unknown = await _construct(client, requirement(task("a", "teleportation")))
    assert (
        unknown.status_code == 422
        and "graph/sequence/0/task/capability: unknown capability type" in _text(unknown)
    )
    assert "No systems yet" in (await client.get("/portal/systems")).text

    # an uploaded file wins over the text area
    token = await _csrf(client, "/portal/systems/new")
    made = await client.post(
        "/portal/systems",
        data={"requirement": "not json", "csrf_token": token},
        files={"file": ("bracket.json", json.dumps(GOOD_REQ).encode(), "application/json")},
    )
    assert made.status_code == 303, made.text
    plan_path = made.headers["location"]
    assert re.fullmatch(r"/portal/systems/[^/]+/plans/1", plan_path)
    plan = await client.get(plan_path)
    text = _text(plan)
    assert plan.status_code == 200
    assert re.search(r'id="plan-status"[^>]*>optimal<', plan.text)
    # 'Good milling' dominates 'Spare milling' on every attribute: any correct plan takes it
    choice = text.split('id="plan-choice"')[1].split("</table>")[0]
    assert "Good milling" in choice and "Spare milling" not in choice and "Inspection" in choice
    ranking = text.split('id="plan-ranking"')[1].split("</section>")[0]
    assert ranking.count("Good milling") == 1 and ranking.count("Spare milling") == 1 and "✔" in ranking
    aggregate = text.split('id="plan-aggregate"')[1].split("</table>")[0]
    # time 1 + 0.5 h within the deadline of 12 h; cost 50 + 20 within the budget of 500
    assert re.search(r'data-attribute="time".*?1\.5 h.*?at most 12 h.*?kept', aggregate, re.S)
    assert re.search(r'data-attribute="cost".*?70 EUR.*?at most 500 EUR.*?kept', aggregate, re.S)
    assert 'id="gantt"' in text and text.count('class="gantt-row"') == 2
    assert 'id="forecast-odds"' in text and "P(deadline met)" in text
    assert 'id="run-plan"' in text
    listing = await client.get("/portal/systems")
    assert "Bracket" in listing.text
    system_path = plan_path.rsplit("/plans/", 1)[0]
    assert (await client.get(system_path)).headers["location"] == plan_path

    token = await _csrf(client, plan_path)
    again = await client.post(f"{system_path}/plans", data={"csrf_token": token})
    assert again.status_code == 303 and again.headers["location"] == f"{system_path}/plans/2"

    await _as(client, w["other"])
    assert (await client.get(plan_path)).status_code == 404
    assert (await client.get("/portal/systems/tasks")).status_code == 403
    assert (await client.get("/portal/systems/overview")).status_code == 403


async def test_an_infeasible_plan_explains_itself_and_cannot_run(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    w = await _world(ctx)
    await _as(client, w["user"])
    # the cheapest plan costs 50 + 20 = 70 EUR: a budget of 60 cannot be kept
    doc = requirement(task("rough"), task("check", "quality_inspection"), budget=60, currency="EUR")
    made = await _construct(client, doc)
    assert made.status_code == 303
    page = await client.get(made.headers["location"])
    assert re.search(r'id="plan-status"[^>]*>infeasible<', page.text)
    explanation = _text(page).split('id="plan-explanation"')[1].split("</ul>")[0]
    assert "budget" in explanation
    assert 'id="run-plan"' not in page.text
    token = await _csrf(client, made.headers["location"])
    system_path = made.headers["location"].rsplit("/plans/", 1)[0]
    refused = await client.post(f"{system_path}/runs", data={"csrf_token": token, "plan": "1"})
    assert refused.status_code == 409 and "plan 1 is infeasible" in _text(refused)
    # nobody offers welding: the task without a candidate is named, with the offers that were turned down
    made = await _construct(client, requirement(task("rough", max_price=10), task("join", "welding")))
    page = await client.get(made.headers["location"])
    explanation = _text(page).split('id="plan-explanation"')[1].split("</ul>")[0]
    assert "task rough: no published offer of type milling passes its constraints" in explanation
    assert "task join: no published offer of type welding" in explanation
    assert "price" in _text(page).split('id="plan-ranking"')[1]  # why each milling offer was turned down


async def _order_of(client: httpx.AsyncClient, run_path: str, key: str) -> str:
    snap = (await client.get(f"{run_path}/snapshot")).json()
    rows = [t for t in snap["tasks"] if t["key"] == key]
    order_id: str = rows[-1]["order_id"]
    return order_id


async def _advance(client: httpx.AsyncClient, order_id: str, *statuses: str) -> None:
    for status in statuses:
        token = await _csrf(client, f"/portal/orders/{order_id}")
        moved = await client.post(
            f"/portal/orders/{order_id}/status", data={"status": status, "csrf_token": token}
        )
        assert moved.status_code == 303, moved.text


async def test_run_follow_rate_report_and_cancel(ctx: Context, client: httpx.AsyncClient) -> None:
    w = await _world(ctx)
    await _as(client, w["user"])
    made = await _construct(client, GOOD_REQ)
    plan_path = made.headers["location"]
    system_path = plan_path.rsplit("/plans/", 1)[0]
    token = await _csrf(client, plan_path)
    form = {"csrf_token": token, "plan": "1"}
    bad = await client.post(f"{system_path}/runs", data={**form, "inputs": "{", "choices": "[1"})
    assert bad.status_code == 422
    assert "inputs: not JSON" in bad.text and "choices: not JSON" in bad.text
    bad = await client.post(
        f"{system_path}/runs", data={**form, "slack": "lots", "seed": "-1", "inputs": '{"zz": {}}'}
    )
    assert bad.status_code == 422
    problems = _text(bad).split('id="run-errors"')[1].split("</ul>")[0]
    assert "slack:" in problems and "seed:" in problems and "inputs/zz: not a task" in problems
    assert 'value="lots"' in bad.text  # what was typed stays in the form
    started = await client.post(f"{system_path}/runs", data=form)
    assert started.status_code == 303
    run_path = started.headers["location"]
    run_id = run_path.rsplit("/", 1)[-1]
    page = await client.get(run_path)
    assert page.status_code == 200 and 'id="cancel-run"' in page.text
    snap = (await client.get(f"{run_path}/snapshot")).json()
    assert {t["key"]: t["state"] for t in snap["tasks"]} == {"rough": "dispatched", "check": "pending"}
    assert snap["progress"] == {"done": 0, "total": 2}
    rough = await _order_of(client, run_path, "rough")

    # the provider finds the task among its own and works the order from the existing order page
    await _as(client, w["provider"])
    tasks = await client.get("/portal/systems/tasks")
    assert tasks.status_code == 200
    listed = tasks.text.split('id="provider-task-list"')[1].split("</table>")[0]
    assert f'href="/portal/orders/{rough}"' in listed and "Bracket" in listed and "check" not in listed
    provider_run = await client.get(run_path)
    assert provider_run.status_code == 200 and 'id="cancel-run"' not in provider_run.text
    await _advance(client, rough, "accepted", "in_progress", "completed")
    await ctx.systems.runs.sync(run_id)  # the server follows order changes on the bus; here by hand
    check = await _order_of(client, run_path, "check")
    await _advance(client, check, "accepted", "in_progress", "completed")
    await ctx.systems.runs.sync(run_id)

    await _as(client, w["user"])
    done = await client.get(run_path)
    assert re.search(r'id="run-status"[^>]*>completed<', done.text) and "2 of 2 done" in done.text
    token = await _csrf(client, run_path)
    refused = await client.post(
        f"{run_path}/rating", data={"csrf_token": token, "task": "rough", "stars": "9"}
    )
    assert refused.status_code == 422 and "stars: an integer from 1 to 5" in refused.text
    missing = await client.post(
        f"{run_path}/rating", data={"csrf_token": token, "task": "nope", "stars": "4"}
    )
    assert missing.status_code == 404 and "has no dispatched task nope" in missing.text
    rated = await client.post(
        f"{run_path}/rating", data={"csrf_token": token, "task": "rough", "stars": "5", "comment": "on time"}
    )
    assert rated.status_code == 303
    shown = await client.get(run_path)
    assert "★★★★★" in shown.text and "on time" in shown.text
    twice = await client.post(f"{run_path}/rating", data={"csrf_token": token, "task": "rough", "stars": "1"})
    assert twice.status_code == 409 and "already rated" in twice.text
    assert (await client.post(f"{run_path}/rating", data={"task": "check", "stars": "3"})).status_code == 403
    ended = await client.post(f"{run_path}/cancel", data={"csrf_token": token})
    assert ended.status_code == 409 and "completed" in ended.text

    # the provider's record: two executions, both successful, one rating of 5
    await _as(client, w["provider"])
    report = _text(await client.get("/portal/systems/tasks"))
    offers = report.split('id="provider-offers"')[1].split("</table>")[0]
    good_row = offers.split(f'data-offer="{w["good"]}"')[1].split("</tr>")[0]
    assert re.search(r">1</td>.*100 %.*1 · 5 ★", good_row, re.S), good_row
    assert 'id="provider-chart"' in report

    # a second run, watched by the operator, then cancelled by its owner
    await _as(client, w["user"])
    token = await _csrf(client, plan_path)
    second = (await client.post(f"{system_path}/runs", data={"csrf_token": token})).headers["location"]
    await _as(client, w["operator"])
    overview = await client.get("/portal/systems/overview")
    assert overview.status_code == 200
    running = overview.text.split('id="operator-running"')[1].split("</table>")[0]
    assert second.rsplit("/", 1)[-1] in running and run_id not in running
    assert "rough: <span" in running and "dispatched" in running
    assert "Mill Co" in overview.text.split('id="operator-providers"')[1]
    await _as(client, w["user"])
    token = await _csrf(client, second)
    assert (
        await client.post(f"{second}/cancel", data={"csrf_token": token, "reason": "changed my mind"})
    ).status_code == 303
    cancelled = _text(await client.get(second))
    assert re.search(r'id="run-status"[^>]*>cancelled<', cancelled) and "changed my mind" in cancelled

    await _as(client, w["other"])
    assert (await client.get(run_path)).status_code == 404
    assert (await client.get(f"{run_path}/snapshot")).status_code == 404


async def test_pages_need_a_session(client: httpx.AsyncClient) -> None:
    for path in ("/portal/systems", "/portal/systems/new", "/portal/systems/tasks", "/portal/runs/x"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    # the run page's script polls the snapshot: it gets a status, not the login page
    assert (await client.get("/portal/runs/x/snapshot")).status_code == 401
