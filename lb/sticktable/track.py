"""What a connection or a request tracks (``track-sc0/1/2``), and when it stops.

HAProxy's rules, checked against its 2.6 side by side:

- tracking an entry (tcp-request connection or http-request track-sc) counts a connection
  in it: conn_cnt, conn_rate, conn_cur (until the tracker ends), trackers;
- tcp-request connection tracking also counts a session (sess_cnt, sess_rate), and then
  every HTTP request of the connection (http_req_cnt, http_req_rate);
- http-request tracking counts the request that tracks, and ends with that request;
- a request whose answer is a 4xx error (from the server, or lb's deny, tarpit, failed
  auth, 400, 408…) counts in http_err_cnt/http_err_rate of every entry it tracks;
  ``http-request return`` and ``redirect`` answers are not errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lb.sticktable.table import now_ms

if TYPE_CHECKING:
    from lb.sticktable.table import StickTable

SC_COUNT = 3  # sc0, sc1, sc2


class Tracked:
    """One tracked entry: its table, where it is, and whose it is."""

    __slots__ = ("base", "fp", "table")

    def __init__(self, table: StickTable, base: int, fp: int) -> None:
        self.table = table
        self.base = base
        self.fp = fp


class Tracking:
    """The sc0..sc2 of a connection (tcp-request) or of one request (http-request, which
    starts from its connection's). ``owned``: bit N set when this one tracks sc N itself
    and so must end it."""

    __slots__ = ("entries", "not_error", "owned")

    def __init__(self, connection: Tracking | None = None) -> None:
        self.entries: list[Tracked | None] = (
            list(connection.entries) if connection is not None else [None] * SC_COUNT
        )
        self.owned = 0
        self.not_error = False  # answered by http-request return / redirect

    def track(self, n: int, table: StickTable, base: int, fp: int) -> None:
        self.entries[n] = Tracked(table, base, fp)
        self.owned |= 1 << n

    # ------------------------------------------------------------------ connection level

    def request_started(self) -> None:
        """An HTTP request on a connection whose tcp-request rules track entries."""
        now = now_ms()
        for e in self.entries:
            if e is not None:
                e.table.request(e.base, now)

    def count_error(self, status: int) -> None:
        """A request of the connection ended in ``status`` (no request-level tracking)."""
        if 400 <= status < 500:
            now = now_ms()
            for e in self.entries:
                if e is not None:
                    e.table.error(e.base, now)

    # ------------------------------------------------------------------ request level

    def request_done(self, status: int) -> None:
        """The request's answer is known (once per request): errors, then the end of what
        the request itself tracked."""
        now = now_ms()
        error = 400 <= status < 500 and not self.not_error
        for n, e in enumerate(self.entries):
            if e is None:
                continue
            if error:
                e.table.error(e.base, now)
            if self.owned & (1 << n):
                e.table.release(e.base, e.fp, now)
        self.owned = 0

    def release_owned(self) -> None:
        """What this one tracked ends (a connection closed, a request never answered)."""
        if not self.owned:
            return
        now = now_ms()
        for n, e in enumerate(self.entries):
            if e is not None and self.owned & (1 << n):
                e.table.release(e.base, e.fp, now)
        self.owned = 0
