"""Create the topics a service uses before it subscribes, with the partition count operators chose."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.schemas.topics import dead_letter


def with_dead_letters(topics: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(topics))
    return names + [dead_letter(t) for t in names if not t.endswith(".dlq")]


# Raw X12 files travel whole on this topic (up to 20 MB); every other topic keeps Kafka's defaults.
TOPIC_CONFIGS = {"ingest.raw-files.v1": {"max.message.bytes": str(25 * 1024 * 1024)}}


def _configs(topic: str) -> dict[str, str]:
    return next((cfg for base, cfg in TOPIC_CONFIGS.items() if topic.endswith(base)), {})


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 6,
    replication: int = 1,
    client_options: Mapping[str, Any] | None = None,
) -> None:
    """`client_options`: TLS and SASL keyword arguments (`shared.runtime.security.kafka_client_options`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(client_options or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [
                NewTopic(
                    t, num_partitions=partitions, replication_factor=replication, topic_configs=_configs(t)
                )
                for t in missing
            ]
        )
        for topic, code, message in (e[:3] for e in response.topic_errors):
            if code not in (0, TopicAlreadyExistsError.errno):  # another replica may have created it first
                raise RuntimeError(f"could not create topic {topic}: error {code} {message}")
    finally:
        await admin.close()
