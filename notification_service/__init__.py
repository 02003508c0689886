"""Player notifications stored in MongoDB and pushed over WebSockets."""
