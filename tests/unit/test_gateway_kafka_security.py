"""The gateway's own producer (uploads, auths, documentation) takes the same Kafka security settings as
every service: a SASL listener is not reachable without them."""

from __future__ import annotations

from typing import Any

from faststream.security import SASLScram512

from services.queues.gateway import app as gateway_app
from shared.runtime.settings import Settings


class FakeBroker:
    made: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        FakeBroker.made.append(kwargs)

    async def connect(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class FakeEngine:
    async def dispose(self) -> None:
        return None


async def test_the_gateway_producer_uses_sasl_when_configured(monkeypatch):
    monkeypatch.setattr(gateway_app, "KafkaBroker", FakeBroker)
    settings = Settings(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="gateway",
        KAFKA_SASL_PASSWORD="s3cret",
    )
    app = gateway_app.create_app(settings, FakeEngine())  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        pass
    security = FakeBroker.made[-1]["security"]
    assert isinstance(security, SASLScram512)
    assert security.username == "gateway"


async def test_the_gateway_producer_is_plain_when_nothing_is_configured(monkeypatch):
    monkeypatch.setattr(gateway_app, "KafkaBroker", FakeBroker)
    app = gateway_app.create_app(Settings(), FakeEngine())  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        pass
    assert FakeBroker.made[-1]["security"] is None
