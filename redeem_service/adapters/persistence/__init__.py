"""PostgreSQL persistence of the wallet (SQLAlchemy Core)."""
