"""Statistics: the shared-memory region, counters, and (later) their renderers."""
