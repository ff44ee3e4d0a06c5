"""Alembic environment of the ingest service: its own schema `ingest`, its own version table."""

from services.ingest.adapters.orm import SCHEMA, metadata
from shared.runtime.migrations import run_env

run_env(metadata, SCHEMA)
