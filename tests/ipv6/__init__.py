"""IPv6 end to end: binds, servers, ACLs, X-Forwarded-For, logs, checks, VRRPv3, PROXY v2."""
