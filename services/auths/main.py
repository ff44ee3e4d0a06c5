"""Bootstrap of the auths service (`claimline run auths`)."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.auths.adapters.orm import outbox
from services.auths.entrypoints.consumers import register
from shared.runtime.broker import make_broker
from shared.runtime.db import make_engine
from shared.runtime.service import ServiceRuntime, build_asgi
from shared.runtime.settings import Settings, get_settings
from shared.schemas import topics

NAME = "auths"


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or get_settings()
    runtime = ServiceRuntime(
        NAME, settings, make_broker(settings, NAME), make_engine(settings.database_url), outbox
    )
    runtime.topics = [
        settings.topic(t)
        for t in (
            topics.CLAIMS_SUBMITTED,
            topics.AUTHS_RECORDS,
            topics.AUTHS_CHECKS,
            topics.AUTHS_LIMITS,
            topics.AUTHS_DOCUMENTATION,
            topics.AUTHS_SCHEDULED,
        )
    ]
    register(runtime)
    return runtime


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    return build_asgi(bootstrap(settings))
