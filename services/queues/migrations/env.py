"""Alembic environment of the queues service: its own schema `queues`, its own version table."""

from services.queues.adapters.orm import SCHEMA, metadata
from shared.runtime.migrations import run_env

run_env(metadata, SCHEMA)
