"""Outages of a live session: when an origin of a feed could not see its area.

Contract: :class:`OutageBook` is told each failure (:meth:`down`) and each success
(:meth:`up`) of an origin — one request of a polled API (a site's point query, a box), a
WebSocket subscription, or a TCP feed (origin ``feed``) — and keeps one outage per dark
stretch: it starts at the **last data received** before the first failure (or the session
start: nothing is known of the time between) and ends at the **first data received** after
it. :meth:`rows` gives the ``feed_outages`` rows that changed since the last commit, open
outages included (``ongoing``, ending at their latest failure) so that a session killed
during an outage still leaves it recorded; the writer upserts them on (file_id, origin,
t_start_utc). On the final commit an open outage ends at the stop time.

An outage carries the box the origin watches (``None`` for a receiver whose reach is not
known): the air analytics do not read a gap inside an outage of a box that holds it as a
transponder switched off (:mod:`sitewatch.analytics._outages`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from sitewatch.sources.base import Batch

BBox = tuple[float, float, float, float]  # (lat_min, lat_max, lon_min, lon_max)
_TS = pa.timestamp("us", tz="UTC")


@dataclass
class Outage:
    origin: str
    t_start_s: float
    t_end_s: float
    reason: str
    failures: int = 1
    ongoing: bool = True


class OutageBook:
    """The outages of one live session (see the module docstring)."""

    def __init__(self, source: str, feed: str, areas: dict[str, BBox | None] | None = None,
                 t0_s: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.source, self.feed = source, feed
        self.areas: dict[str, BBox | None] = dict(areas or {})
        self._clock = clock
        self._t0 = t0_s if t0_s is not None else self._clock()
        self._last_ok: dict[str, float] = {}
        self.open: dict[str, Outage] = {}
        self._dirty: list[Outage] = []
        self.total = 0  # outages begun this session

    def down(self, origin: str, t_s: float, reason: str) -> None:
        """A request of ``origin`` failed at ``t_s`` (or its connection dropped)."""
        o = self.open.get(origin)
        if o is None:
            o = self.open[origin] = Outage(origin, self._last_ok.get(origin, self._t0), t_s, reason)
            self.total += 1
        else:
            o.failures += 1
            o.t_end_s, o.reason = max(o.t_end_s, t_s), reason
        self._mark(o)

    def up(self, origin: str, t_s: float) -> None:
        """``origin`` delivered data at ``t_s``: an open outage of it ends there."""
        self._last_ok[origin] = t_s
        o = self.open.pop(origin, None)
        if o is not None:
            o.t_end_s, o.ongoing = max(t_s, o.t_start_s), False
            self._mark(o)

    def _mark(self, o: Outage) -> None:
        if not any(d is o for d in self._dirty):
            self._dirty.append(o)

    def rows(self, final: bool = False) -> list[Batch]:
        """The changed outages as one ``feed_outages`` batch (empty list when none changed)."""
        if final:
            now = self._clock()
            for o in list(self.open.values()):
                o.t_end_s, o.ongoing = max(now, o.t_end_s), False
                o.reason = f"{o.reason}; the session stopped during the outage"
                self._mark(o)
            self.open.clear()
        if not self._dirty:
            return []
        outs, self._dirty = self._dirty, []
        boxes = [self.areas.get(o.origin) for o in outs]

        def edge(k: int) -> pa.Array:
            return pa.array([None if b is None else float(b[k]) for b in boxes], pa.float64())

        rows = pa.table({
            "source": pa.array([self.source] * len(outs), pa.string()),
            "feed": pa.array([self.feed] * len(outs), pa.string()),
            "origin": pa.array([o.origin for o in outs], pa.string()),
            "t_start_utc": pa.array([round(o.t_start_s * 1e6) for o in outs], pa.int64()).cast(_TS),
            "t_end_utc": pa.array([round(o.t_end_s * 1e6) for o in outs], pa.int64()).cast(_TS),
            "ongoing": pa.array([o.ongoing for o in outs], pa.bool_()),
            "lat_min": edge(0), "lat_max": edge(1), "lon_min": edge(2), "lon_max": edge(3),
            "failures": pa.array([o.failures for o in outs], pa.int64()),
            "reason": pa.array([o.reason[:500] for o in outs], pa.string()),
        })
        return [Batch("feed_outages", rows)]
