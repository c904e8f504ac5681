"""lb-bench: test backends, HTTP and TCP load generators, and lb-against-peers comparisons.

``lb-bench serve|http|tcp|compare`` (lb.bench.cli). It ships inside lb so that it installs
with the package; docs/lb-bench.md describes it.
"""
