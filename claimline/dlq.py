"""`claimline dlq`: look at dead letters and put one back on the topic it came from.

A message a consumer can never process goes to `<topic>.dlq` with headers that say why and where it came
from (`dlq-reason`, `dlq-error-type`, `dlq-topic`, `dlq-partition`, `dlq-offset`, `dlq-consumer`). Once
the cause is fixed (a rule that crashed is corrected, a registry entry is repaired) or the message itself
is corrected, `claimline dlq replay` publishes it again to its origin topic with its original key, so it
lands on the same partition as the events of its claim. Handlers record every event id they applied, so a
replay of a message that was processed meanwhile, or a second replay, changes nothing.

Payloads carry patient data: `list` never prints them, and it masks the values pydantic quotes in a
validation error; only `replay --payload` reads a payload, from a file the operator wrote.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from shared.runtime.security import kafka_client_options
from shared.runtime.settings import Settings
from shared.schemas.topics import DLQ_SUFFIX, dead_letter

REPLAYED_FROM = "dlq-replayed-from"


class DeadLetterError(RuntimeError):
    """What the operator asked for cannot be done; the message says why."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def origin(self) -> str:
        return self.headers.get("dlq-topic", "")

    @property
    def event_id(self) -> str | None:
        try:
            body = json.loads(self.value)
        except ValueError:
            return None
        found = body.get("event_id") if isinstance(body, dict) else None
        return str(found) if found else None

    def summary(self) -> str:
        h = self.headers
        where = f"{h.get('dlq-topic', '?')}[{h.get('dlq-partition', '?')}]@{h.get('dlq-offset', '?')}"
        return "\t".join(
            (
                self.position,
                h.get("dlq-consumer", "?"),
                where,
                f"event {self.event_id or '-'}",
                masked(h.get("dlq-reason", "")),
            )
        )


def masked(reason: str, limit: int = 300) -> str:
    """A dead-letter reason fit for a terminal: the input values pydantic quotes are hidden (they may be
    a patient's name or member id) and the text is one line."""
    text = re.sub(r"input_value=.*?(, input_type=)", r"input_value=…\1", reason, flags=re.DOTALL)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dead_letter_topic(settings: Settings, topic: str) -> str:
    """`remit.lines.v1`, `remit.lines.v1.dlq` and their prefixed names all name the same dead-letter topic."""
    base = topic.removesuffix(DLQ_SUFFIX)
    if settings.topic_prefix and not base.startswith(settings.topic_prefix):
        base = settings.topic(base)
    return dead_letter(base)


def _headers(raw: Any) -> dict[str, str]:
    return {k: (v.decode(errors="replace") if isinstance(v, bytes) else str(v)) for k, v in raw or []}


async def read_dead_letters(settings: Settings, topic: str) -> list[DeadLetter]:
    """Every dead letter on the topic as it stands now, oldest first per partition."""
    dlq = dead_letter_topic(settings, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_options(settings),
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(dlq)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(dlq)
        if not partitions:
            raise DeadLetterError(f"there is no dead-letter topic {dlq}")
        assigned = [TopicPartition(dlq, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in assigned if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < ends[tp]:
                        letters.append(
                            DeadLetter(r.partition, r.offset, r.key, r.value or b"", _headers(r.headers))
                        )
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return sorted(letters, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


def find(letters: list[DeadLetter], at: str | None, event_id: str | None) -> DeadLetter:
    if at:
        match = [d for d in letters if d.position == at]
        if not match:
            raise DeadLetterError(
                f"no dead letter at {at} (give PARTITION:OFFSET as `claimline dlq list` shows)"
            )
        return match[0]
    wanted = str(uuid.UUID(event_id)) if event_id else None
    match = [d for d in letters if d.event_id == wanted]
    if not match:
        raise DeadLetterError(f"no dead letter of event {event_id}")
    return match[-1]


async def replay(settings: Settings, letter: DeadLetter, payload: bytes | None = None) -> str:
    """Publish the dead letter (or its corrected payload) to its origin topic with its original key."""
    if not letter.origin:
        raise DeadLetterError(f"the dead letter at {letter.position} does not say which topic it came from")
    value = letter.value if payload is None else payload
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        **kafka_client_options(settings),
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            letter.origin,
            value,
            key=letter.key,
            headers=[
                ("content-type", b"application/json"),
                (REPLAYED_FROM, f"{dead_letter(letter.origin)}:{letter.position}".encode()),
            ],
        )
    finally:
        await producer.stop()
    return letter.origin


def corrected_payload(path: Path) -> bytes:
    data = path.read_bytes()
    try:
        json.loads(data)
    except ValueError as exc:
        raise DeadLetterError(f"{path} is not JSON: {exc}") from exc
    return data
