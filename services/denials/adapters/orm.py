"""The denials service's tables, in its own PostgreSQL schema `denials`."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, Numeric, String, Table, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

from shared.runtime.db import bookkeeping_tables

SCHEMA = "denials"
metadata = MetaData(schema=SCHEMA)

decisions = Table(
    "decisions",
    metadata,
    Column("source_event_id", Uuid, primary_key=True, comment="the remit line event this decides"),
    Column("decision_event_id", Uuid, nullable=False, unique=True),
    Column("practice_id", String(64), nullable=False, index=True),
    Column("category", String(40), nullable=False),
    Column("queue", String(40), nullable=True),
    Column("priority", Integer, nullable=False),
    Column("amount_at_risk", Numeric(14, 2), nullable=False),
    Column("decision", JSONB, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("summary", Text, nullable=False),
)

processed_events, outbox = bookkeeping_tables(metadata)
