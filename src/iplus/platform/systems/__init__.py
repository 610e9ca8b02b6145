"""Smart service systems: requirements as task graphs, QoS-aware selection, scheduling and run management."""
