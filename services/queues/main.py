"""Bootstrap of the queues consumer service (`claimline run queues`).

The gateway API is its own process: `claimline run gateway`.
"""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.queues.entrypoints.consumers import register
from shared.runtime.broker import make_broker
from shared.runtime.db import make_engine
from shared.runtime.service import ServiceRuntime, build_asgi
from shared.runtime.settings import Settings, get_settings
from shared.schemas import topics

NAME = "queues"


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or get_settings()
    runtime = ServiceRuntime(NAME, settings, make_broker(settings, NAME), make_engine(settings.database_url))
    runtime.topics = [
        settings.topic(t)
        for t in (
            topics.DENIALS_DECISIONS,
            topics.INGEST_REJECTIONS,
            topics.AUTHS_CHECKS,
            topics.REMIT_PROVIDER_ADJUSTMENTS,
            topics.INGEST_FILES,
            topics.PRACTICES,
            topics.CLAIMS_ACKNOWLEDGMENTS,
            topics.DENIALS_SCRUBS,
            topics.AUTHS_LIMITS,
        )
    ]
    register(runtime)
    return runtime


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    return build_asgi(bootstrap(settings))
