"""The auths service's tables, in its own PostgreSQL schema `auths`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.runtime.db import bookkeeping_tables

SCHEMA = "auths"
metadata = MetaData(schema=SCHEMA)

authorizations = Table(
    "authorizations",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("payer_id", String(80), primary_key=True),
    Column("auth_number", String(80), primary_key=True),
    Column("member_id", String(80), nullable=False),
    Column("provider_npi", String(10), nullable=True),
    Column("procedure_codes", ARRAY(String(48)), nullable=False),
    Column("units_authorized", Numeric(10, 2), nullable=True),
    Column("units_used", Numeric(10, 2), nullable=True),
    Column("patient_last_name", String(100), nullable=True),
    Column("patient_first_name", String(100), nullable=True),
    Column("patient_birth_date", Date, nullable=True),
    Column("levels", ARRAY(String(20)), nullable=False, server_default="{}"),
    Column("sides", ARRAY(String(10)), nullable=False, server_default="{}"),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

claims = Table(
    "claims",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("payer_id", String(80), primary_key=True),
    Column("claim_id", String(80), primary_key=True),
    Column("member_id", String(80), nullable=True),
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("claim", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

sessions = Table(
    "sessions",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("claim_id", String(80), primary_key=True),
    Column("service_date", Date, primary_key=True),
    Column("family", String(30), primary_key=True),
    Column("region", String(30), primary_key=True, comment="empty when the family has no spinal region"),
    Column("levels", ARRAY(String(20)), nullable=False),
    Column("member_id", String(80), nullable=False),
    Column("birth_date", Date, nullable=True, index=True),
    Column("last_name", String(100), nullable=True),
    Column("first_name", String(100), nullable=True),
)

auth_history = Table(
    "auth_history",
    metadata,
    Column("entry_id", BigInteger, Identity(), primary_key=True),
    Column("practice_id", String(64), nullable=False),
    Column("payer_id", String(80), nullable=False),
    Column("auth_number", String(80), nullable=False),
    Column("status", String(20), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("units_authorized", Numeric(10, 2), nullable=True),
    Column("units_used", Numeric(10, 2), nullable=True),
    Column("source_event_id", Uuid, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_auth_history_auth", "practice_id", "payer_id", "auth_number"),
)

scheduled = Table(
    "scheduled",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("schedule_id", String(64), primary_key=True),
    Column("payer_id", String(80), nullable=False),
    Column("member_id", String(80), nullable=True),
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("schedule", JSONB, nullable=False),
)

documentation = Table(
    "documentation",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("claim_id", String(80), primary_key=True),
    Column("facts", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

processed_events, outbox = bookkeeping_tables(metadata)
