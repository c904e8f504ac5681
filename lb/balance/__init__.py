"""Load-balancing algorithms: pure, table-tested."""
