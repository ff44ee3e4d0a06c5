"""Bootstrap of the ingest service (`claimline run ingest`).

Files enter through `claimline ingest FILE`, the raw-file topic (which the gateway's upload uses) and
the drop folder (`CLAIMLINE_DROP_DIR`). The service relays the ingest outbox to Kafka, so an ingest
that happened while the broker was down is published as soon as it is back.
"""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.ingest.adapters.orm import outbox
from services.ingest.dropfolder import watch
from services.ingest.entrypoints.consumers import register
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
    register(runtime)
    if settings.drop_dir is not None:
        folder = settings.drop_dir
        runtime.background.append(lambda stop: watch(runtime.engine, settings, folder, stop))
    runtime.topics = [
        settings.topic(t)
        for t in (
            topics.REMIT_LINES,
            topics.REMIT_PROVIDER_ADJUSTMENTS,
            topics.INGEST_REJECTIONS,
            topics.PRACTICES,
            topics.INGEST_FILES,
            topics.INGEST_RAW_FILES,
            topics.CLAIMS_SUBMITTED,
            topics.CLAIMS_ACKNOWLEDGMENTS,
        )
    ]
    return runtime


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    return build_asgi(bootstrap(settings))
