"""inbound_events.signature: a DingTalk (timestamp, sign) pair carries one message, whichever
daemon receives it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(sa.Column("signature", sa.String(length=200), nullable=True))
        batch.create_unique_constraint(op.f("uq_inbound_events_signature"), ["signature", "source"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_constraint(op.f("uq_inbound_events_signature"), type_="unique")
        batch.drop_column("signature")
