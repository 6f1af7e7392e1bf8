"""Alembic migrations of the hub's database; run them with ``hub.migrate.upgrade``."""
