"""Metadata store: SQLAlchemy 2 models, async engine, Alembic migrations and tenant-scoped repositories."""
