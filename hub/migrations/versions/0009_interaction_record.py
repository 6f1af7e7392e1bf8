"""interaction record

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:00:00

Interactions gain ``record``: what the channel measured of a contact once it ended (a call's
legs, wait, ring, talk and hold times, hang-up cause and side, recordings). Interactions
already stored get an empty document.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_column("record")
