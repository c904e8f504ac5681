"""Stick tables: per-key counters, rates and server persistence, in shared memory.

- ``layout``: where each part of an entry lives (pure); ``freq``: lock-free rates (pure);
  ``keys``: samples as keys and their stable fingerprints (pure);
- ``table``: one table over a shared mapping (lookup-or-insert, counters, sweep);
- ``region``: the master's tables (one memfd each, kept across reloads), and the workers'
  attachment; ``show``: the runtime API's show/set/clear table;
- ``config``: parsing stick-table / stick / tcp-request; ``rules``: compiling tcp-request
  connection and stick rules, and their check; ``actions`` / ``fetches``: track-sc*,
  sc-inc-gpc*, sc-set-gpt0, and the sc*_ / src_* fetches for lb.acl; ``track``: what a
  connection or request tracks, and when it is counted.

docs/sticktables.md says what is supported and how it works.
"""
