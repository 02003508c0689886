"""Framework-free application ports shared by the services: unit of work, outbox, events."""
