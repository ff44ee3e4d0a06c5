"""The denials service's tables, in its own PostgreSQL schema `denials`."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, Text, Uuid, func
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

official_codes = Table(
    "official_codes",
    metadata,
    Column("kind", String(4), primary_key=True, comment="carc | rarc"),
    Column("code", String(8), primary_key=True),
    Column(
        "description", Text, nullable=False, comment="official X12 wording, from the customer's licensed list"
    ),
    Column("start_date", Date, nullable=True),
    Column("stop_date", Date, nullable=True),
    Column("source", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

processed_events, outbox = bookkeeping_tables(metadata)
