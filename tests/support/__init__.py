"""Helpers for the integration tests.

- ``clients``: ``free_port()``, bulk upload/download with digests, echo round trips, ``EchoLoop``.
- ``servers`` / ``backends``: backend servers (echo, sink, source, hello, halfclose) run as
  subprocesses that log what they receive; ``Backend`` starts one and reads its log.
- ``lbproc``: ``LbProcess`` (start lb, wait ready, ``api``, ``workers``, ``reload``, ``stop``,
  teardown by pid), ``tcp_config()``, ``run_lb()`` for ``-c``.
- ``api``: the runtime API client and the ``show proc`` / ``show info`` parsers.
- ``procs``: /proc bookkeeping: process identity by (pid, start time), descendants, CPU ticks.
- ``peers``: haproxy/socat/root requirements: skip locally, fail with ``CI=true``.
"""
