"""The ingest service's tables, in its own PostgreSQL schema `ingest`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY

from shared.runtime.db import bookkeeping_tables

SCHEMA = "ingest"
metadata = MetaData(schema=SCHEMA)

files = Table(
    "files",
    metadata,
    Column("file_id", String(64), primary_key=True, comment="sha256 of the bytes as received"),
    Column("file_name", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("archive_path", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lines", Integer, nullable=False),
    Column("rejections", Integer, nullable=False),
    Column("source", String(40), nullable=False),
    Column("kind", String(10), nullable=True, comment="835, 837P, 999, 277CA"),
)

practices = Table(
    "practices",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

practice_identifiers = Table(
    "practice_identifiers",
    metadata,
    Column("kind", String(20), primary_key=True, comment="payee_npi | payee_tin | rendering_npi"),
    Column("value", String(20), primary_key=True),
    Column(
        "practice_id",
        String(64),
        ForeignKey("ingest.practices.practice_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

remittances = Table(
    "remittances",
    metadata,
    Column("payer_key", String(80), primary_key=True, comment="payer id, or payer name when no id is sent"),
    Column("trace_number", String(80), primary_key=True, comment="TRN02 check or EFT trace number"),
    Column("file_id", String(64), nullable=False),
    Column("transaction_control", String(20), nullable=False),
    Column("payment_amount", Numeric(14, 2), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

submitted_claims = Table(
    "submitted_claims",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("claim_id", String(80), primary_key=True),
    Column("payer_id", String(80), nullable=False),
    Column("file_id", String(64), nullable=False),
    Column("frequency_code", String(2), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

submitted_lines = Table(
    "submitted_lines",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("claim_id", String(80), primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("procedure_code", String(48), nullable=False),
    Column("modifiers", ARRAY(String(2)), nullable=False),
    Column("units", Numeric(10, 3), nullable=False),
    Column("charge", Numeric(14, 2), nullable=False),
    Column("service_date", Date, nullable=True),
    Column("line_control_number", String(50), nullable=True),
    Index("ix_submitted_lines_control", "practice_id", "claim_id", "line_control_number"),
)

submitted_sets = Table(
    "submitted_sets",
    metadata,
    Column("group_control", String(20), primary_key=True),
    Column("transaction_control", String(20), primary_key=True),
    Column("file_id", String(64), primary_key=True),
    Column("practice_id", String(64), nullable=False),
)

processed_events, outbox = bookkeeping_tables(metadata)
