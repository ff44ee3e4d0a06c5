"""The gateway on the real database: every endpoint scoped by the caller's practices and providers.

A biller of practice A cannot list, read, assign, annotate, change or export anything of practice B, by id
guessing or by filter, and gets exactly the 404 a missing object gets; a provider-scoped biller sees only
that provider's lines; a supervisor sees all; an admin sees no patient data.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services.denials.app import decide
from services.denials.domain.catalog import load_catalog
from services.queues.adapters.orm import access_log
from services.queues.adapters.repository import create_user
from services.queues.app import apply_decision
from services.queues.domain.scope import Role
from services.queues.gateway.app import create_app
from shared.runtime.settings import Settings
from shared.schemas import AuthRecorded, ProcedureScheduled, topics
from tests.support.events import remit_line
from tests.support.kafka import read_all

pytestmark = pytest.mark.integration

PROVIDER_1, PROVIDER_2 = "1111111111", "2222222222"


@dataclass
class World:
    client: httpx.AsyncClient
    a: str
    b: str
    tokens: dict[str, str]
    items: dict[str, list[str]]  # practice (or practice/provider) -> item ids
    trace_a: str
    trace_b: str
    private_key: rsa.RSAPrivateKey

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


async def seed_line(engine, practice: str, provider: str, trace: str, code: str) -> str:
    event = remit_line(practice, code=code)
    event = event.model_copy(
        update={
            "claim": event.claim.model_copy(update={"rendering_npi": provider}),
            "remittance": event.remittance.model_copy(update={"trace_number": trace}),
        }
    )
    decision = decide(load_catalog(), event, date(2026, 10, 22))
    await apply_decision(engine, decision)
    from services.queues.app import item_id_for

    return str(item_id_for("line", str(decision.source_event_id)))


@pytest_asyncio.fixture
async def world(engine, database_url, kafka_bootstrap, tmp_path) -> AsyncIterator[World]:
    a, b = f"ga-{uuid.uuid4().hex[:6]}", f"gb-{uuid.uuid4().hex[:6]}"
    trace_a, trace_b = f"TA{uuid.uuid4().hex[:8]}", f"TB{uuid.uuid4().hex[:8]}"
    items = {
        f"{a}/{PROVIDER_1}": [await seed_line(engine, a, PROVIDER_1, trace_a, c) for c in ("64493", "64483")],
        f"{a}/{PROVIDER_2}": [await seed_line(engine, a, PROVIDER_2, trace_a, "62323")],
        b: [await seed_line(engine, b, PROVIDER_1, trace_b, c) for c in ("64490", "20552")],
    }
    items[a] = items[f"{a}/{PROVIDER_1}"] + items[f"{a}/{PROVIDER_2}"]
    tag = uuid.uuid4().hex[:6]
    async with engine.begin() as conn:
        tokens = {
            "biller_a": await create_user(conn, f"ba-{tag}", Role.BILLER, (a,)),
            "biller_a1": await create_user(conn, f"ba1-{tag}", Role.BILLER, (a,), (PROVIDER_1,)),
            "biller_b": await create_user(conn, f"bb-{tag}", Role.BILLER, (b,)),
            "supervisor": await create_user(conn, f"sup-{tag}", Role.SUPERVISOR),
            "admin": await create_user(conn, f"adm-{tag}", Role.ADMIN),
        }
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "idp.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    settings = Settings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=database_url,
        CLAIMLINE_JWT_KEYS=pem,
        CLAIMLINE_JWT_ISSUER="https://idp.example",
        CLAIMLINE_JWT_AUDIENCE="claimline",
        CLAIMLINE_TOPIC_PREFIX=f"gw{tag}.",
    )
    app = create_app(settings, engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield World(client, a, b, tokens, items, trace_a, trace_b, key)


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {i["item_id"] for i in response.json()["items"]}


async def test_listing_is_scoped_by_practice_and_provider(world: World):
    c, a, b = world.client, world.a, world.b
    assert ids(
        await c.get("/v1/work-items", params={"practice_id": a}, headers=world.as_("biller_a"))
    ) == set(world.items[a])
    mine = ids(await c.get("/v1/work-items", headers=world.as_("biller_a")))
    assert mine >= set(world.items[a]) and not mine & set(world.items[b])
    assert (
        ids(await c.get("/v1/work-items", params={"practice_id": b}, headers=world.as_("biller_a"))) == set()
    )
    provider_scoped = ids(await c.get("/v1/work-items", headers=world.as_("biller_a1")))
    assert set(world.items[f"{a}/{PROVIDER_1}"]) <= provider_scoped
    assert not provider_scoped & set(world.items[f"{a}/{PROVIDER_2}"] + world.items[b])
    # A supervisor sees every practice (asked per practice: the session's database holds other tests' items).
    for practice in (a, b):
        seen = ids(
            await c.get("/v1/work-items", params={"practice_id": practice}, headers=world.as_("supervisor"))
        )
        assert seen == set(world.items[practice])
    assert ids(await c.get("/v1/work-items", headers=world.as_("admin"))) == set()


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("GET", "/history", None),
        ("GET", "/context", None),
        ("POST", "/claim", None),
        ("POST", "/assign", {"assignee": None}),
        ("POST", "/status", {"status": "resolved"}),
        ("POST", "/notes", {"text": "peeking"}),
    ],
)
async def test_another_practices_item_answers_exactly_like_a_missing_one(world: World, method, suffix, body):
    foreign = world.items[world.b][0]
    missing = str(uuid.uuid4())
    headers = world.as_("biller_a")
    r_foreign = await world.client.request(
        method, f"/v1/work-items/{foreign}{suffix}", json=body, headers=headers
    )
    r_missing = await world.client.request(
        method, f"/v1/work-items/{missing}{suffix}", json=body, headers=headers
    )
    assert r_foreign.status_code == r_missing.status_code == 404
    assert r_foreign.json() == r_missing.json() == {"error": "not_found", "detail": "no such work item"}
    provider_foreign = world.items[f"{world.a}/{PROVIDER_2}"][0]
    r_provider = await world.client.request(
        method, f"/v1/work-items/{provider_foreign}{suffix}", json=body, headers=world.as_("biller_a1")
    )
    assert r_provider.status_code == 404


async def test_bulk_actions_treat_foreign_items_as_missing_and_change_only_in_scope(world: World):
    own, foreign = world.items[world.a][0], world.items[world.b][0]
    r = await world.client.post(
        "/v1/work-items/bulk",
        headers=world.as_("biller_a"),
        json={
            "item_ids": [own, foreign, str(uuid.uuid4())],
            "action": "status",
            "status": "waiting_on_payer",
        },
    )
    assert [(x["ok"], x["error"]) for x in r.json()] == [
        (True, None),
        (False, "not_found"),
        (False, "not_found"),
    ]
    seen_by_b = (await world.client.get(f"/v1/work-items/{foreign}", headers=world.as_("biller_b"))).json()
    assert seen_by_b["status"] == "new"


async def test_working_an_item_leaves_an_audit_trail_that_cannot_be_edited(world: World, engine):
    item = world.items[world.a][0]
    c, biller = world.client, world.as_("biller_a")
    claimed = (await c.post(f"/v1/work-items/{item}/claim", headers=biller)).json()
    assert claimed["status"] == "in_progress" and claimed["assignee"].startswith("ba-")
    await c.post(f"/v1/work-items/{item}/notes", json={"text": "called the payer, ref 7781"}, headers=biller)
    done = (await c.post(f"/v1/work-items/{item}/status", json={"status": "appealed"}, headers=biller)).json()
    assert done["status"] == "appealed"
    history = (await c.get(f"/v1/work-items/{item}/history", headers=biller)).json()
    assert [e["action"] for e in history["audit"]] == ["claim", "note", "status"]
    assert history["audit"][2]["before"] == {"status": "in_progress"}
    assert history["audit"][2]["after"] == {"status": "appealed"}
    assert [n["text"] for n in history["notes"]] == ["called the payer, ref 7781"]
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(
                text("UPDATE queues.audit_log SET actor = 'someone else' WHERE item_id = :i"), {"i": item}
            )
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM queues.notes WHERE item_id = :i"), {"i": item})


async def test_only_supervisors_assign_work_to_others_and_only_within_the_assignees_scope(world: World):
    item = world.items[world.a][0]
    c = world.client
    sup_a = (await c.get("/v1/me", headers=world.as_("biller_a"))).json()["username"]
    sup_b = (await c.get("/v1/me", headers=world.as_("biller_b"))).json()["username"]
    refused = await c.post(
        f"/v1/work-items/{item}/assign", json={"assignee": sup_b}, headers=world.as_("biller_a")
    )
    assert refused.status_code == 403
    wrong_practice = await c.post(
        f"/v1/work-items/{item}/assign", json={"assignee": sup_b}, headers=world.as_("supervisor")
    )
    assert wrong_practice.status_code == 403 and "does not work practice" in wrong_practice.json()["detail"]
    given = await c.post(
        f"/v1/work-items/{item}/assign", json={"assignee": sup_a}, headers=world.as_("supervisor")
    )
    assert given.json()["assignee"] == sup_a
    mine = ids(await c.get("/v1/work-items", params={"assignee": "me"}, headers=world.as_("biller_a")))
    assert mine == {item}


async def test_reads_of_patient_data_are_logged(world: World, engine):
    item = world.items[world.a][0]
    await world.client.get(f"/v1/work-items/{item}", headers=world.as_("biller_a"))
    await world.client.get(f"/v1/remittances/{world.trace_a}", headers=world.as_("biller_a"))
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(access_log.c.what, access_log.c.target, access_log.c.practice_ids).where(
                    access_log.c.target.in_([item, world.trace_a])
                )
            )
        ).all()
    assert sorted((r.what, r.practice_ids) for r in rows) == [
        ("remittance", [world.a]),
        ("work_item", [world.a]),
    ]


async def test_the_era_view_shows_only_the_callers_lines_and_the_claim_view_is_scoped(world: World):
    c = world.client
    era = (await c.get(f"/v1/remittances/{world.trace_a}", headers=world.as_("biller_a"))).json()
    assert {ln["practice_id"] for ln in era["lines"]} == {world.a}
    assert len(era["lines"]) == 3
    first = era["lines"][0]
    assert (
        first["adjustments"][0]["reason"] == "197" and "authorization" in first["adjustments"][0]["meaning"]
    )
    assert (await c.get(f"/v1/remittances/{world.trace_b}", headers=world.as_("biller_a"))).status_code == 404
    assert (await c.get(f"/v1/remittances/{world.trace_b}", headers=world.as_("biller_b"))).status_code == 200
    provider_view = (await c.get(f"/v1/remittances/{world.trace_a}", headers=world.as_("biller_a1"))).json()
    assert len(provider_view["lines"]) == 2
    claim_id = first["claim_id"]
    assert (await c.get(f"/v1/claims/{claim_id}", headers=world.as_("biller_a"))).status_code == 200
    assert (await c.get(f"/v1/claims/{claim_id}", headers=world.as_("biller_b"))).status_code == 404


async def test_the_csv_export_holds_exactly_the_callers_queue(world: World):
    r = await world.client.get(
        "/v1/work-items.csv", params={"practice_id": world.a}, headers=world.as_("biller_a")
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("item_id,practice_id,")
    assert {row.split(",")[0] for row in lines[1:]} == set(world.items[world.a])
    foreign = await world.client.get(
        "/v1/work-items.csv", params={"practice_id": world.b}, headers=world.as_("biller_a")
    )
    assert foreign.text.strip().splitlines()[1:] == []


async def test_an_export_larger_than_the_limit_is_refused_not_cut_short(world: World, monkeypatch):
    from services.queues.gateway import items

    count = len(world.items[world.a])
    assert count >= 2
    monkeypatch.setattr(items, "EXPORT_PAGE", 1)
    monkeypatch.setattr(items, "EXPORT_MAX_ROWS", count)
    whole = await world.client.get(
        "/v1/work-items.csv", params={"practice_id": world.a}, headers=world.as_("biller_a")
    )
    assert whole.status_code == 200
    assert len(whole.text.strip().splitlines()) == count + 1

    monkeypatch.setattr(items, "EXPORT_MAX_ROWS", count - 1)
    refused = await world.client.get(
        "/v1/work-items.csv", params={"practice_id": world.a}, headers=world.as_("biller_a")
    )
    assert refused.status_code == 413
    assert "narrow the filters" in refused.json()["detail"]


async def test_keyset_pages_return_every_item_once_in_priority_order(world: World):
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "practice_id": world.a}
        if cursor:
            params["cursor"] = cursor
        page = (
            await world.client.get("/v1/work-items", params=params, headers=world.as_("supervisor"))
        ).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(str(i["item_id"]) for i in seen) == sorted(world.items[world.a])
    keys = [(int(str(i["priority"])), uuid.UUID(str(i["item_id"]))) for i in seen]
    assert keys == sorted(keys, reverse=True)
    bad = await world.client.get("/v1/work-items", params={"cursor": "%%%"}, headers=world.as_("supervisor"))
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"


async def test_identity_provider_tokens_are_verified_and_scoped_by_the_stored_user(world: World):
    username = (await world.client.get("/v1/me", headers=world.as_("biller_a"))).json()["username"]

    def token(key: rsa.RSAPrivateKey, **overrides: object) -> str:
        claims: dict[str, object] = {
            "sub": username,
            "iss": "https://idp.example",
            "aud": "claimline",
            "exp": int(time.time()) + 300,
            "claimline_practices": [world.b],
        }
        claims.update(overrides)
        return jwt.encode(claims, key, algorithm="RS256")

    good = await world.client.get(
        "/v1/work-items", headers={"Authorization": f"Bearer {token(world.private_key)}"}
    )
    assert ids(good) and not ids(good) & set(
        world.items[world.b]
    )  # claims in the token do not widen the scope
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        token(other_key),
        token(world.private_key, exp=int(time.time()) - 10),
        token(world.private_key, aud="someone-else"),
        token(world.private_key, sub="nobody"),
    ):
        r = await world.client.get("/v1/work-items", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401 and r.json()["error"] == "unauthenticated"


async def test_admins_manage_users_and_others_may_not(world: World):
    c = world.client
    new = await c.post(
        "/v1/users",
        json={"username": f"new-{uuid.uuid4().hex[:6]}", "role": "biller", "practices": [world.a]},
        headers=world.as_("admin"),
    )
    assert new.status_code == 201
    token = new.json()["token"]
    assert (await c.get("/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert (await c.get("/v1/users", headers=world.as_("supervisor"))).status_code == 403
    gone = await c.post(f"/v1/users/{new.json()['username']}/deactivate", headers=world.as_("admin"))
    assert gone.json()["active"] is False
    assert (await c.get("/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_invalid_requests_get_the_same_error_body(world: World):
    r = await world.client.post(
        f"/v1/work-items/{world.items[world.a][0]}/status",
        json={"status": "done-ish"},
        headers=world.as_("biller_a"),
    )
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request" and "status" in r.json()["detail"]
    audit = await world.client.get("/v1/work-items/not-a-uuid", headers=world.as_("biller_a"))
    assert audit.status_code == 422


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"older_than_days": "-1"}, "older_than_days"),
        ({"min_amount": "10.001"}, "min_amount"),
        ({"min_amount": "lots"}, "min_amount"),
    ],
)
async def test_a_bad_queue_filter_gets_the_error_body_naming_it(world: World, params, field):
    for path in ("/v1/work-items", "/v1/work-items.csv"):
        if path.endswith(".csv") and field == "limit":
            continue  # the export has no page size
        r = await world.client.get(path, params=params, headers=world.as_("biller_a"))
        assert r.status_code == 422, (path, params)
        assert r.json()["error"] == "invalid_request" and field in r.json()["detail"]


async def test_the_page_reads_without_a_transaction_block_and_the_history_keeps_one(engine):
    """What `connection` gives a request, by its route: AUTOCOMMIT only for routes marked so."""
    from types import SimpleNamespace

    from starlette.requests import Request

    from services.queues.gateway.app import create_app
    from services.queues.gateway.deps import connection
    from tests.unit.test_gateway_wiring import api_routes

    routes = {(r.path, tuple(sorted(r.methods or ()))): r for r in api_routes(create_app().routes)}
    app = SimpleNamespace(state=SimpleNamespace(engine=engine))
    seen = {}
    for path, method in (("/v1/work-items", "GET"), ("/v1/work-items/{item_id}/history", "GET")):
        scope = {
            "type": "http",
            "method": method,
            "headers": [],
            "app": app,
            "route": routes[(path, (method,))],
        }
        async for conn in connection(Request(scope)):
            assert conn.sync_connection is not None
            seen[path] = conn.sync_connection.get_execution_options().get("isolation_level")
            await conn.execute(text("SELECT 1"))
            seen[path + " in transaction"] = conn.in_transaction()
    assert seen["/v1/work-items"] == "AUTOCOMMIT"
    assert seen["/v1/work-items/{item_id}/history"] is None  # the engine's default: a transaction
    assert seen["/v1/work-items/{item_id}/history in transaction"] is True


async def test_a_page_holds_the_documented_fields_with_their_types(world: World):
    from services.queues.gateway.items import WorkItemOut

    r = await world.client.get("/v1/work-items", params={"limit": 2}, headers=world.as_("supervisor"))

    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    page = r.json()
    assert set(page) == {"items", "next_cursor"} and page["items"]
    for item in page["items"]:
        assert set(item) == set(WorkItemOut.model_fields)  # never `detail` or internal columns
        parsed = WorkItemOut.model_validate(item)  # the OpenAPI schema's types, as JSON writes them
        assert isinstance(item["amount_at_risk"], str)
        assert parsed.amount_at_risk == Decimal(item["amount_at_risk"])
        assert str(parsed.item_id) == item["item_id"]


async def test_authorizations_are_recorded_only_for_practices_in_scope(world: World, kafka_bootstrap):
    body = {
        "practice_id": world.a,
        "auth_number": f"PA-{uuid.uuid4().hex[:6]}",
        "payer_id": "87726",
        "member_id": "W12345678",
        "procedure_codes": ["64483", "64484"],
        "units_authorized": "2",
        "valid_from": "2026-09-01",
        "valid_to": "2026-12-31",
        "status": "approved",
    }
    foreign = await world.client.post(
        "/v1/auths", json={**body, "practice_id": world.b}, headers=world.as_("biller_a")
    )
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    accepted = await world.client.post("/v1/auths", json=body, headers=world.as_("biller_a"))
    assert accepted.status_code == 202
    settings = world.client._transport.app.state.settings  # type: ignore[attr-defined]
    records = await read_all(kafka_bootstrap, settings.topic(topics.AUTHS_RECORDS), expect=1)
    recorded = [AuthRecorded.model_validate_json(r.value) for r in records]
    assert [(r.practice_id, r.auth_number, r.units_authorized) for r in recorded] == [
        (world.a, body["auth_number"], Decimal("2"))
    ]


async def test_a_patients_frequency_history_is_full_in_scope_and_counts_elsewhere(world: World, engine):
    from decimal import Decimal as D

    from services.queues.app import apply_limits
    from shared.schemas import (
        ClaimLimitsChecked,
        PersonRef,
        SessionSeen,
        SubmittedLine,
        event_id_for,
        now_utc,
    )

    member, born = f"1eg4-{uuid.uuid4().hex[:6]}", date(1956, 3, 14)
    a_day, b_day = date.today() - timedelta(days=200), date.today() - timedelta(days=30)
    for practice, claim_id, dos in ((world.a, "FA1", a_day), (world.b, "FB1", b_day)):
        await apply_limits(
            engine,
            ClaimLimitsChecked(
                event_id=event_id_for("test.limits", practice, claim_id, member),
                occurred_at=now_utc(),
                practice_id=practice,
                source_event_id=uuid.uuid4(),
                claim_id=claim_id,
                payer_id="12502",
                rendering_npi=PROVIDER_1,
                lines=(
                    SubmittedLine(
                        line_number=1, procedure_code="64493", units=D(1), charge=D(850), service_date=dos
                    ),
                ),
                patient=PersonRef(member_id=member.upper() if practice == world.a else member),
                patient_birth_date=born,
                sessions=(
                    SessionSeen(
                        service_date=dos,
                        family="therapeutic_facet",
                        region="lumbar_sacral",
                        at_this_practice=True,
                        claim_id=claim_id,
                        practice_id=practice,
                    ),
                ),
            ),
        )
    params = {"member_id": member, "birth_date": born.isoformat()}
    seen_by_a = await world.client.get("/v1/patients/frequency", params=params, headers=world.as_("biller_a"))
    assert seen_by_a.status_code == 200
    sessions = seen_by_a.json()["sessions"]
    assert [(s["claim_id"], s["practice_id"], s["in_your_scope"]) for s in sessions] == [
        (None, None, False),
        ("FA1", world.a, True),
    ]
    assert seen_by_a.json()["last_12_months"] == {"therapeutic_facet/lumbar_sacral": 2}
    everything = (
        await world.client.get("/v1/patients/frequency", params=params, headers=world.as_("supervisor"))
    ).json()["sessions"]
    assert {s["practice_id"] for s in everything} == {world.a, world.b}
    stranger = await world.client.get(
        "/v1/patients/frequency", params={**params, "member_id": "nobody"}, headers=world.as_("biller_a")
    )
    assert stranger.status_code == 404


async def test_schedules_are_accepted_only_for_practices_in_scope(world: World, kafka_bootstrap):
    body = {
        "practice_id": world.a,
        "payer_id": "87726",
        "filing_indicator": "CI",
        "member_id": "W123",
        "procedures": [{"procedure_code": "64483", "modifiers": ["LT"], "scheduled_date": "2027-01-15"}],
    }
    schedule_id = f"S{uuid.uuid4().hex[:6]}"
    foreign = await world.client.put(
        f"/v1/schedules/{schedule_id}", json={**body, "practice_id": world.b}, headers=world.as_("biller_a")
    )
    assert foreign.status_code == 404
    accepted = await world.client.put(
        f"/v1/schedules/{schedule_id}", json=body, headers=world.as_("biller_a")
    )
    assert accepted.status_code == 202
    settings = world.client._transport.app.state.settings  # type: ignore[attr-defined]
    (record,) = await read_all(kafka_bootstrap, settings.topic(topics.AUTHS_SCHEDULED), expect=1)
    event = ProcedureScheduled.model_validate_json(record.value)
    assert (event.practice_id, event.schedule_id, event.procedures[0].service_date) == (
        world.a,
        schedule_id,
        date(2027, 1, 15),
    )


async def test_a_frequency_hold_shows_other_practices_sessions_to_supervisors_only(world: World, engine):
    from decimal import Decimal as D

    from services.queues.app import apply_limits, item_id_for
    from shared.schemas import (
        ClaimLimitsChecked,
        LimitFinding,
        SessionSeen,
        SubmittedLine,
        event_id_for,
        now_utc,
    )

    claim_id = f"HOLD{uuid.uuid4().hex[:6]}"
    other = SessionSeen(
        service_date=date(2026, 2, 2),
        family="therapeutic_facet",
        region="lumbar_sacral",
        at_this_practice=False,
    )
    other_full = other.model_copy(update={"claim_id": "B-CLAIM-7", "practice_id": world.b})
    await apply_limits(
        engine,
        ClaimLimitsChecked(
            event_id=event_id_for("test.hold", claim_id),
            occurred_at=now_utc(),
            practice_id=world.a,
            source_event_id=uuid.uuid4(),
            claim_id=claim_id,
            payer_id="12502",
            rendering_npi=PROVIDER_1,
            lines=(
                SubmittedLine(
                    line_number=1,
                    procedure_code="64493",
                    units=D(1),
                    charge=D(850),
                    service_date=date(2026, 9, 2),
                ),
            ),
            findings=(
                LimitFinding(
                    kind="frequency",
                    line_numbers=(1,),
                    family="therapeutic_facet",
                    region="lumbar_sacral",
                    message="4 sessions in 12 months (4 allowed)",
                    count_in_window=4,
                    cap=4,
                    counted=(other,),
                    supervisor_only_counted=(other_full,),
                ),
            ),
        ),
    )
    item_id = str(
        item_id_for("limit", world.a, claim_id, "frequency", "therapeutic_facet", "lumbar_sacral", "")
    )
    as_biller = (await world.client.get(f"/v1/work-items/{item_id}", headers=world.as_("biller_a"))).json()
    as_supervisor = (
        await world.client.get(f"/v1/work-items/{item_id}", headers=world.as_("supervisor"))
    ).json()
    assert as_biller["detail"]["count_in_window"] == 4
    assert "supervisor_only_counted" not in as_biller["detail"]
    assert "B-CLAIM-7" not in str(as_biller)
    assert as_supervisor["detail"]["supervisor_only_counted"][0]["claim_id"] == "B-CLAIM-7"
