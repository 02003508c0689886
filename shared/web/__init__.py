"""The Flask application base every service builds on."""
