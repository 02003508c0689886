"""Access-token verification for resource servers (JWKS, flask-jwt-extended) and RBAC guards."""
