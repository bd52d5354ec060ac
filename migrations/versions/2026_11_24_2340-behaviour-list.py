"""behaviour-list

Revision ID: 9b2d4f6a8c10
Revises: 7a4c1e9f2b60
Create Date: 2026-11-24 23:40:56.478867+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db_types

# revision identifiers, used by Alembic.
revision: str = "9b2d4f6a8c10"
down_revision: str | Sequence[str] | None = "7a4c1e9f2b60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "points_behaviour_version",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("published_at", core.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_behaviour_version")),
        sa.UniqueConstraint("number", name=op.f("uq_points_behaviour_version_number")),
    )
    op.create_table(
        "points_behaviour",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("description_zh", sa.String(length=2000), nullable=False),
        sa.Column("description_en", sa.String(length=2000), nullable=False),
        sa.Column("points_per_unit", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("cap_day", sa.Integer(), nullable=True),
        sa.Column("cap_week", sa.Integer(), nullable=True),
        sa.Column("cap_month", sa.Integer(), nullable=True),
        sa.Column("cap_year", sa.Integer(), nullable=True),
        sa.Column("certified_by", sa.String(length=80), nullable=False),
        sa.Column("evidence_required", sa.Boolean(), nullable=False),
        sa.Column("active_from", core.db_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("active_until", core.db_types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "points_per_unit > 0", name=op.f("ck_points_behaviour_points_per_unit_positive")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["points_behaviour_version.id"],
            name=op.f("fk_points_behaviour_version_id_points_behaviour_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_behaviour")),
        sa.UniqueConstraint("version_id", "code", name=op.f("uq_points_behaviour_version_id_code")),
    )


def downgrade() -> None:
    op.drop_table("points_behaviour")
    op.drop_table("points_behaviour_version")
