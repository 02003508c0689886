"""Use cases of the identity service and the ports they need."""
