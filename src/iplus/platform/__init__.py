"""Service platform middleware: catalog, knowledge registry, construction, run management, evaluation."""
