"""The ingest service's tables, in its own PostgreSQL schema `ingest`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

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
)

practices = Table(
    "practices",
    metadata,
    Column("practice_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("payee_npi", String(10), nullable=True),
    Column("payee_tin", String(20), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("payee_npi", name="uq_practices_payee_npi"),
    UniqueConstraint("payee_tin", name="uq_practices_payee_tin"),
)

processed_events, outbox = bookkeeping_tables(metadata)
