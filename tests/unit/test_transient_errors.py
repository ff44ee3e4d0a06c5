"""A database that is restarting is a reason to retry, never to dead-letter; a broken message is not."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber
from sqlalchemy.exc import DBAPIError

from shared.runtime.broker import PracticeMismatch, is_transient
from shared.runtime.producer import needs_new_producer


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"server said {sqlstate}")
        self.sqlstate = sqlstate


def db_error(sqlstate: str) -> DBAPIError:
    return DBAPIError("INSERT ...", None, PgError(sqlstate))


@pytest.mark.parametrize(
    "sqlstate",
    ["57P03", "57P01", "57P02", "08006", "08003", "53300", "40001", "40P01"],
    ids=[
        "cannot-connect-now",
        "admin-shutdown",
        "crash-shutdown",
        "connection-failure",
        "no-connection",
        "too-many-connections",
        "serialization",
        "deadlock",
    ],
)
def test_a_database_that_cannot_serve_now_is_retried(sqlstate: str):
    assert is_transient(db_error(sqlstate))


@pytest.mark.parametrize("sqlstate", ["23505", "22P02", "42P01"])
def test_a_statement_the_database_refuses_for_good_is_not_retried(sqlstate: str):
    assert not is_transient(db_error(sqlstate))


def test_a_practice_mismatch_is_never_retried():
    assert not is_transient(PracticeMismatch("work item belongs to another practice"))


def test_only_a_producer_out_of_step_with_the_broker_is_replaced():
    wrapped = RuntimeError("publish failed")
    wrapped.__cause__ = OutOfOrderSequenceNumber()
    assert needs_new_producer(wrapped)
    assert not needs_new_producer(KafkaConnectionError("broker away"))


def test_a_relay_without_a_connected_producer_asks_for_a_new_one():
    """After a renewal whose connect failed, FastStream has no producer: the relay must renew again."""
    from faststream.exceptions import IncorrectState

    from shared.runtime.broker import kafka_producer, make_broker
    from shared.runtime.settings import Settings

    broker = make_broker(Settings(), "svc")
    assert kafka_producer(broker) is None, "not connected: no aiokafka producer, and no exception"
    assert needs_new_producer(IncorrectState("You should connect broker first."))
