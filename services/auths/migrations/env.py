"""Alembic environment of the auths service: its own schema `auths`, its own version table."""

from services.auths.adapters.orm import SCHEMA, metadata
from shared.runtime.migrations import run_env

run_env(metadata, SCHEMA)
