"""Worker processes: uvloop, the L4 relay, (later) the L7 protocols."""
