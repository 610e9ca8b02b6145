"""The service catalog: offers over virtual things, matching requirements to offers, and orders."""
