"""Health checks, run once by the master for the whole daemon.

- ``machine``: the rise/fall counter (pure);
- ``schedule``, ``slowstart``: intervals, timeouts, the weight ramp (pure);
- ``httpcheck``: HTTP check requests and verdicts (pure);
- ``spec``, ``keepalived``: what to check, from the configuration (pure);
- ``plans``: every server to check, HAProxy's and keepalived's;
- ``probes``: TCP, HTTP, ICMP and program checks (I/O);
- ``checker``: the scheduler that runs them and writes the shared state table.
"""

from lb.master.health.checker import HealthChecker
from lb.master.health.plans import server_plans
from lb.master.health.spec import CheckSpec, ServerPlan, haproxy_plans

__all__ = ["CheckSpec", "HealthChecker", "ServerPlan", "haproxy_plans", "server_plans"]
