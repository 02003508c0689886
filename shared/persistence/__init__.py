"""SQLAlchemy plumbing of the SQL services: engine, unit of work, outbox, processed events."""
