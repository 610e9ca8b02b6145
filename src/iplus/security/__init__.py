"""People and organisation layer with security: passwords, tokens, API keys, roles, tenancy."""
