"""Statistics: the shared-memory region, counters, their aggregation, and the renderers.

Workers bump ``counters.ObjectCounters`` and flush them into their slab; the master folds
the slabs of dead workers and writes the history ring (``master``); ``source`` reads a
snapshot; ``render_*`` turn one into CSV, typed, JSON, Prometheus or the HTML page; ``http``
serves the page and /metrics; ``runtime`` adds the runtime API's commands. See docs/stats.md.
"""
