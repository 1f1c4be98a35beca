"""customers, calls and call legs without tenant-only indexes: their other indexes start
with the tenant (or no query reads them by tenant alone); a million-row import and every
call's gate write paid for them

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 01:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_customers_tenant_id"), table_name="customers")
    op.drop_index(op.f("ix_calls_tenant_id"), table_name="calls")
    op.drop_index(op.f("ix_call_legs_tenant_id"), table_name="call_legs")


def downgrade() -> None:
    op.create_index(op.f("ix_call_legs_tenant_id"), "call_legs", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_calls_tenant_id"), "calls", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_customers_tenant_id"), "customers", ["tenant_id"], unique=False)
