"""PostgreSQL persistence of the promotions (SQLAlchemy Core)."""
