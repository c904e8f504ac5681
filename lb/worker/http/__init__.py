"""mode http: the L7 data path.

head.py      request and response heads: what was parsed, validated, rewritten (pure)
errors.py    lb's own responses (400, 408, 502, 503, 504) and errorfiles (pure)
upstream.py  connections to servers: protocol, idle pool
session.py   one client connection: parse, route, forward, keep-alive, pipelining
"""
