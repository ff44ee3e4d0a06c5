"""Alembic environment of the denials service: its own schema `denials`, its own version table."""

from services.denials.adapters.orm import SCHEMA, metadata
from shared.runtime.migrations import run_env

run_env(metadata, SCHEMA)
