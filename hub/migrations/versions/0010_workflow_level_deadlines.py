"""workflow deadlines by urgency level

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:00:00

Workflow templates gain ``level_percent``: the share of every deadline a ticket at a level
gets (a major, urgent complaint a quarter of the time). Templates already stored get none, so
their deadlines stay as they were until an administrator sets it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_template", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level_percent", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("workflow_template", schema=None) as batch_op:
        batch_op.drop_column("level_percent")
