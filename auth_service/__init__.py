"""Identity and OAuth2 authorization server for the loyalty platform."""
