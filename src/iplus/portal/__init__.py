"""Web portals for people: service provider, platform operator and service user."""
