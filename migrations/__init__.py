"""Alembic migrations; `migrations.models` gathers every table they manage."""
