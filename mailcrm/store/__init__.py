"""The store: SQLAlchemy engine, typed models, repository functions, Alembic migrations."""
