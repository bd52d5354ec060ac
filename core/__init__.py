"""Shared infrastructure: settings, database, Redis, clock, ids, errors. No business rules."""
