"""work item filter indexes

Indexes that serve the queue's common filters in its own order (priority DESC, item_id DESC), so a
filtered page walks an index and stops after a page instead of reading a whole practice and sorting it:
queue and status within a practice (billers) and across practices (supervisors). And statistics on
(practice_id, provider_npi): a rendering NPI belongs to one practice, which the planner cannot know from
per-column statistics; without them it expects a provider-scoped biller's filters to match a handful of
rows and reads the whole practice.

Revision ID: queues_0007
Revises: queues_0006
Create Date: 2026-11-26 21:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "queues_0007"
down_revision: str | None = "queues_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_work_items_practice_queue_priority": ["practice_id", "queue", "priority", "item_id"],
    "ix_work_items_practice_status_priority": ["practice_id", "status", "priority", "item_id"],
    "ix_work_items_queue_priority": ["queue", "priority", "item_id"],
    "ix_work_items_status_priority": ["status", "priority", "item_id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "work_items", columns, unique=False, schema="queues")
    op.execute(
        "CREATE STATISTICS queues.st_work_items_practice_provider (mcv, dependencies) "
        "ON practice_id, provider_npi FROM queues.work_items"
    )
    op.execute("ANALYZE queues.work_items")


def downgrade() -> None:
    op.execute("DROP STATISTICS IF EXISTS queues.st_work_items_practice_provider")
    for name in INDEXES:
        op.drop_index(name, table_name="work_items", schema="queues")
