"""Public health and elderly care domain: the National Early Warning Score 2."""
