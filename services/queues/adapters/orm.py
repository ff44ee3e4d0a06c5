"""The queues service's tables, in its own PostgreSQL schema `queues`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.runtime.db import bookkeeping_tables

SCHEMA = "queues"
metadata = MetaData(schema=SCHEMA)

work_items = Table(
    "work_items",
    metadata,
    Column("item_id", Uuid, primary_key=True),
    Column("practice_id", String(64), nullable=False),
    Column("provider_npi", String(10), nullable=True),
    Column("kind", String(20), nullable=False, comment="denial | rejection | auth"),
    Column("category", String(40), nullable=False),
    Column("queue", String(40), nullable=False),
    Column("status", String(20), nullable=False, server_default="new"),
    Column("priority", Integer, nullable=False),
    Column("amount_at_risk", Numeric(14, 2), nullable=False),
    Column("deadline", Date, nullable=True),
    Column("summary", Text, nullable=False),
    Column("payer_name", Text, nullable=True),
    Column("claim_id", Text, nullable=True),
    Column("line_number", Integer, nullable=True),
    Column("procedure_code", String(48), nullable=True),
    Column("service_date", Date, nullable=True),
    Column("file_id", String(64), nullable=True),
    Column("source_event_id", Uuid, nullable=False),
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("assignee", String(100), nullable=True),
    Column("detail", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_work_items_practice_priority", "practice_id", "priority", "item_id"),
    Index("ix_work_items_priority", "priority", "item_id"),
    Index("ix_work_items_claim", "practice_id", "claim_id"),
    # The queue's filters in its own order (queues_0007); that migration also adds extended statistics
    # on (practice_id, provider_npi), which table metadata cannot express.
    Index("ix_work_items_practice_queue_priority", "practice_id", "queue", "priority", "item_id"),
    Index("ix_work_items_practice_status_priority", "practice_id", "status", "priority", "item_id"),
    Index("ix_work_items_queue_priority", "queue", "priority", "item_id"),
    Index("ix_work_items_status_priority", "status", "priority", "item_id"),
)

remit_lines = Table(
    "remit_lines",
    metadata,
    Column("source_event_id", Uuid, primary_key=True),
    Column("practice_id", String(64), nullable=False, index=True),
    Column("provider_npi", String(10), nullable=True),
    Column("file_id", String(64), nullable=False),
    Column("trace_number", Text, nullable=True),
    Column("payer_id", Text, nullable=True),
    Column("payment_date", Date, nullable=True),
    Column("payer_name", Text, nullable=True),
    Column("claim_id", Text, nullable=False),
    Column("claim_status_code", String(4), nullable=False),
    Column("line_number", Integer, nullable=False),
    Column("procedure_code", String(48), nullable=False),
    Column("modifiers", ARRAY(String(2)), nullable=False),
    Column("service_date", Date, nullable=True),
    Column("charge", Numeric(14, 2), nullable=False),
    Column("allowed", Numeric(14, 2), nullable=True),
    Column("paid", Numeric(14, 2), nullable=False),
    Column("category", String(40), nullable=False),
    Column("summary", Text, nullable=False),
    Column("decision", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_remit_lines_trace", "trace_number"),
    Index("ix_remit_lines_claim", "practice_id", "claim_id"),
)

users = Table(
    "users",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False, comment="biller | supervisor | admin"),
    Column("practices", ARRAY(String(64)), nullable=False, server_default="{}"),
    Column("providers", ARRAY(String(10)), nullable=False, server_default="{}"),
    Column("token_hash", String(64), nullable=False, unique=True, comment="sha256 of the API token"),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

files = Table(
    "files",
    metadata,
    Column("file_id", String(64), primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("kind", String(10), nullable=True),
    Column("source", String(40), nullable=False),
    Column("submitted_by", String(100), nullable=True),
    Column("lines", Integer, nullable=False),
    Column("held_lines", Integer, nullable=False),
    Column("provider_adjustments", Integer, nullable=False),
    Column("rejections", Integer, nullable=False),
    Column("duplicate_remittances", Integer, nullable=False),
    Column("practices", JSONB, nullable=False, comment="practice id to number of lines"),
    Column("practice_ids", ARRAY(String(64)), nullable=False),
    Column("duplicate_submissions", Integer, nullable=False, server_default="0"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("last_submitted_at", DateTime(timezone=True), nullable=False),
)

practices = Table(
    "practices",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("payee_npis", ARRAY(String(10)), nullable=False),
    Column("payee_tins", ARRAY(String(9)), nullable=False),
    Column("rendering_npis", ARRAY(String(10)), nullable=False),
    Column("revision", BigInteger, nullable=False),
)

claim_ack_lines = Table(
    "claim_ack_lines",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("claim_id", Text, primary_key=True),
    Column("line_key", Text, primary_key=True, comment="REF*FJ line control number, else code|date"),
    Column("procedure_code", String(48), nullable=True),
    Column("modifiers", ARRAY(String(2)), nullable=False),
    Column("charge", Numeric(14, 2), nullable=True),
    Column("service_date", Date, nullable=True),
    Column("line_control_number", Text, nullable=True),
    Column("accepted", Boolean, nullable=True),
    Column("file_id", String(64), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

patient_sessions = Table(
    "patient_sessions",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("claim_id", Text, primary_key=True),
    Column("service_date", Date, primary_key=True),
    Column("family", String(30), primary_key=True),
    Column("region", String(30), primary_key=True),
    Column(
        "member_key", String(80), nullable=False, comment="member id, upper case, letters and digits only"
    ),
    Column("birth_date", Date, nullable=True),
    Column("provider_npi", String(10), nullable=True),
    Index("ix_patient_sessions_member", "member_key", "birth_date"),
)

notes = Table(
    "notes",
    metadata,
    Column("note_id", BigInteger, Identity(), primary_key=True),
    Column("item_id", Uuid, nullable=False, index=True),
    Column("practice_id", String(64), nullable=False),
    Column("author", String(100), nullable=False),
    Column("text", Text, nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("entry_id", BigInteger, Identity(), primary_key=True),
    Column("item_id", Uuid, nullable=False, index=True),
    Column("practice_id", String(64), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False, comment="assign | claim | note | status"),
    Column("before", JSONB, nullable=True),
    Column("after", JSONB, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

access_log = Table(
    "access_log",
    metadata,
    Column("entry_id", BigInteger, Identity(), primary_key=True),
    Column("actor", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("what", String(60), nullable=False, comment="the view read: work_item, remittance, claim, export"),
    Column("target", Text, nullable=False, comment="the item id, trace number or claim id read"),
    Column("practice_ids", ARRAY(String(64)), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True, comment="sha256 of the session cookie's value"),
    Column("user_id", Uuid, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False, comment="absolute end of the session"),
    Column(
        "idle_until", DateTime(timezone=True), nullable=False, comment="ends earlier if unused until then"
    ),
    comment="signed-in console sessions; the cookie holds a random value, only its hash is stored",
)

processed_events, outbox = bookkeeping_tables(metadata)
