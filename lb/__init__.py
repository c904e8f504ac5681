"""lb: a load balancer that does the job of HAProxy and keepalived on one host."""

__version__ = "0.1.0"
RELEASE_DATE = "2026/11/21"
