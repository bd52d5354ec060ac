"""append-only ledger rows on PostgreSQL

Entries, postings, lot uses and checkpoints are never updated or deleted by the application: a
trigger refuses it, so a bug or a careless hand in psql cannot rewrite history. Someone able to
disable triggers can still do it; the verifier's seals catch that.

Revision ID: 3c1e0a9d5b21
Revises: fa7b2a0ba6ad
Create Date: 2026-11-24 22:50:00+00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "3c1e0a9d5b21"
down_revision: str | Sequence[str] | None = "fa7b2a0ba6ad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("ledger_entry", "ledger_posting", "ledger_lot_use", "ledger_checkpoint")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # the embedded SQLite default is a single developer's database
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Correct a posted entry with a reversal entry.';
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
