"""Domain applications, one package per domain, each with the same shape."""
