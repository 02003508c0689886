"""Server-side gRPC pieces every service can reuse: the server with its health service and
graceful stop, call context (correlation id, deadline, logs, metrics), bearer-token checks and
the translation of domain errors to status codes."""
