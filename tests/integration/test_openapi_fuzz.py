"""schemathesis drives every operation of the gateway's OpenAPI document with generated requests, as a biller
and as a supervisor, against the real database and broker: no request may produce a server error."""

from __future__ import annotations

import asyncio
import uuid

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
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        strategy = operation.as_strategy()
        for role, token in tokens.items():

            headers = {"Authorization": f"Bearer {token}"}

            @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(case=strategy)
            def run(case: schemathesis.Case) -> None:
                try:
                    response = case.call(headers=headers)
                except Exception as exc:
                    seen.append(f"{case.method} {case.formatted_path} query={case.query!r}: raised {exc!r}"[:600])
                    raise
                if response.status_code >= 500:
                    seen.append(f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}: "
                                f"{response.status_code} {response.text[:300]}")
                case.validate_response(response, checks=[not_a_server_error])

            try:
                run()
            except Exception as exc:
                failures.append(f"{role} {operation.method.upper()} {operation.path}: {str(exc)[:500]}")
    assert failures == [], seen[:5]
