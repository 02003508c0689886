"""The shared kernel: configuration, logging, errors, security, messaging, web and resilience."""
