"""The embedded platform: real servers from PyPI packages, started for development and tests."""
