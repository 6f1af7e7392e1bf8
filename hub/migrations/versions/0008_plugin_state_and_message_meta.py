"""plugin state and message meta

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00

Plugins keep their own durable state (a mailbox's UIDVALIDITY and last UID, accounts, send
leases) in ``plugin_state``, keyed by plugin and key. Messages gain ``meta``: what a channel
keeps beside the text (an email's subject, HTML body file, threading ids). Messages already
stored get an empty document.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plugin_state",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meta", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("meta")
    op.drop_table("plugin_state")
