"""Thin subscribers of the ingest service: raw files from other systems, and registry changes."""

from __future__ import annotations

from faststream.kafka.annotations import KafkaMessage

from services.ingest.app import PracticeSpec, RegistryConflict, apply_practice, ingest_bytes
from shared.runtime.broker import PermanentError, subscriber_options
from shared.runtime.service import ServiceRuntime
from shared.schemas import PracticeRegistered, topics

MAX_RAW_FILE_BYTES = 20 * 1024 * 1024


def register(runtime: ServiceRuntime) -> None:
    broker, settings, engine = runtime.broker, runtime.settings, runtime.engine

    @broker.subscriber(
        settings.topic(topics.INGEST_RAW_FILES),
        **subscriber_options("ingest", "raw-files", settings),
        max_partition_fetch_bytes=MAX_RAW_FILE_BYTES + 1024 * 1024,
    )
    async def on_raw_file(message: KafkaMessage) -> None:
        headers = {k: str(v) for k, v in message.headers.items()}
        name = headers.get("file-name")
        if not name:
            raise PermanentError("a raw file needs a file-name header")
        await ingest_bytes(
            engine,
            settings,
            bytes(message.body),
            name,
            source=headers.get("source", "topic"),
            submitted_by=headers.get("submitted-by"),
        )

    @broker.subscriber(
        settings.topic(topics.PRACTICES), **subscriber_options("ingest", "practices", settings)
    )
    async def on_practice(event: PracticeRegistered) -> None:
        spec = PracticeSpec(
            event.practice_id,
            event.name,
            event.payee_npis,
            event.payee_tins,
            event.rendering_npis,
            event.active,
        )
        async with engine.begin() as conn:
            try:
                await apply_practice(conn, settings, spec, publish=False)
            except RegistryConflict as exc:
                raise PermanentError(str(exc)) from exc
