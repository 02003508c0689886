"""PostgreSQL persistence of the identity service (SQLAlchemy Core)."""
