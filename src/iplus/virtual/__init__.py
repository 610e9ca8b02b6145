"""Smart virtual resource, capability and product layer: thing models, twins and pools."""
