"""schemathesis drives every operation of the gateway's OpenAPI document with generated requests, as a biller
and as a supervisor, against the real database and broker: no request may produce a server error."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from services.queues.adapters.repository import create_user
from services.queues.domain.scope import Role
from services.queues.gateway.app import create_app
from shared.runtime.db import make_engine
from shared.runtime.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap, database_url):
    tag = uuid.uuid4().hex[:6]

    async def users() -> dict[str, str]:
        engine = make_engine(database_url)
        async with engine.begin() as conn:
            tokens = {
                "biller": await create_user(conn, f"fz-b-{tag}", Role.BILLER, ("fuzz-practice",)),
                "supervisor": await create_user(conn, f"fz-s-{tag}", Role.SUPERVISOR),
            }
        await engine.dispose()
        return tokens

    tokens = asyncio.run(users())
    app = create_app(
        Settings(
            KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
            DATABASE_URL=database_url,
            CLAIMLINE_TOPIC_PREFIX=f"fz{tag}.",
        )
    )
    return app, tokens


def test_no_generated_request_causes_a_server_error(gateway):
    app, tokens = gateway
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    seen: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15
    for operation in operations:
        for role, token in tokens.items():
            problem = _fuzz(operation, {"Authorization": f"Bearer {token}"}, seen)
            if problem:
                failures.append(f"{role} {operation.method.upper()} {operation.path}: {problem}")
    assert failures == [], seen[:5]


def _fuzz(operation: Any, headers: dict[str, str], seen: list[str]) -> str | None:
    """Run generated requests against one operation; the error text when one got a server error."""

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        where = f"{case.method} {case.formatted_path} query={case.query!r}"
        try:
            response = case.call(headers=headers)
        except Exception as exc:
            seen.append(f"{where}: raised {exc!r}"[:600])
            raise
        if response.status_code >= 500:
            seen.append(f"{where} body={case.body!r}: {response.status_code} {response.text[:300]}")
        case.validate_response(response, checks=[not_a_server_error])

    try:
        run()
    except Exception as exc:
        return str(exc)[:500]
    return None
