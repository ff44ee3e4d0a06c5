"""Bootstrap of the denials service.

Run it with `claimline run denials` or `faststream run services.denials.main:create_app --factory`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.asgi import AsgiFastStream

from services.denials.adapters.orm import outbox
from services.denials.domain.catalog import load_catalog
from services.denials.entrypoints.consumers import register
from shared.runtime.broker import make_broker
from shared.runtime.db import make_engine
from shared.runtime.service import ServiceRuntime, build_asgi
from shared.runtime.settings import Settings, get_settings
from shared.schemas import topics

NAME = "denials"


def bootstrap(settings: Settings | None = None) -> ServiceRuntime:
    settings = settings or get_settings()
    runtime = ServiceRuntime(
        NAME, settings, make_broker(settings, NAME), make_engine(settings.database_url), outbox
    )
    runtime.topics = [settings.topic(t) for t in (topics.REMIT_LINES, topics.DENIALS_DECISIONS)]
    register(runtime, load_catalog(), lambda: datetime.now(UTC).date())
    return runtime


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    return build_asgi(bootstrap(settings))
