"""The embedded one-host platform (dev profile)."""
