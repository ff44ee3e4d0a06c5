"""Bootstrap of the ingest service (`claimline run ingest`): publishes what file intake wrote to its outbox.

Files enter through `claimline ingest FILE`; the service relays their events to Kafka, so an ingest
that happened while the broker was down is published as soon as it is back.
"""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.ingest.adapters.orm import outbox
from shared.runtime.broker import make_broker
from shared.runtime.db import make_engine
from shared.runtime.service import ServiceRuntime, build_asgi
from shared.runtime.settings import Settings, get_settings
from shared.schemas import topics

NAME = "ingest"


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or get_settings()
    runtime = ServiceRuntime(
        NAME, settings, make_broker(settings, NAME), make_engine(settings.database_url), outbox
    )
    runtime.topics = [settings.topic(t) for t in (topics.REMIT_LINES, topics.INGEST_REJECTIONS)]
    return runtime


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    return build_asgi(bootstrap(settings))
