"""A fresh idempotent producer when the old one can never publish again.

aiokafka's idempotent producer numbers its batches per partition. When the broker goes away while
batches are in flight, those batches fail after their timeout but their sequence numbers stay used; once
the broker is back it answers every later batch with OutOfOrderSequenceNumber, for ever (the Java client
bumps its producer epoch here, aiokafka does not). The only way out is a new producer, which gets a new
producer id from the broker. Nothing is lost: whatever failed is still in the outbox and is published
again (consumers drop the repeats by event id).
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)
from faststream.exceptions import IncorrectState
from faststream.kafka import KafkaBroker

from shared.runtime.logging import get_logger

log = get_logger("claimline.producer")

PRODUCER_STATE_ERRORS: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
    ProducerClosed,
    IncorrectState,  # FastStream: no producer connected, e.g. after a renewal whose connect failed
)


def needs_new_producer(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PRODUCER_STATE_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


async def renew_producer(broker: KafkaBroker) -> None:
    """Replace the broker's producer by a new one with the same settings (subscribers are untouched)."""
    config = broker.config.broker_config
    producer = config.producer
    await producer.disconnect()
    await producer.connect(
        AIOKafkaProducer(**broker._connection_kwargs),
        serializer=config.fd_config._serializer,
        codec=config.broker_codec,
    )
    log.warning("started a new Kafka producer: the old one's sequence numbers no longer matched the broker")
