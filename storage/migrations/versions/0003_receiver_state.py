"""receiver state on the connection row

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

``amo-bridge status`` runs in a process of its own: the serving process writes each
receiver's state (starting / running / retrying / failed), its last error, since when, and
its last successful poll here, on a change and at most every few seconds otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receiver_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("receiver_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("receiver_since", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("receiver_last_ok", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.drop_column("receiver_last_ok")
        batch_op.drop_column("receiver_since")
        batch_op.drop_column("receiver_error")
        batch_op.drop_column("receiver_state")
