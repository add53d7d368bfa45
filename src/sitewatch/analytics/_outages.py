"""Feed outages for the analytics: when a point was out of every live feed's sight because the feed failed.

Contract: :class:`Outages` holds the recorded ``feed_outages`` with a box
(:mod:`sitewatch.live._outages`: a polled API that failed or was rate-limited, a dropped
WebSocket). :meth:`Outages.blind` gives, for points and a time span, the merged stretches of
that span during which an outage of a box holding one of the points was going on.

Used by the dark-gap analysis (:mod:`sitewatch.analytics.air.gaps`): a silence is evidence
of a transponder switched off only where the feed could hear; a gap whose unblinded part is
shorter than the gap threshold is **set apart as a feed outage** (no ``dark-gap`` event, no
dark visit), and in the other gaps the blinded time bins are left out of the coverage test.
Outages without a box (a receiver's TCP feed, whose reach is not known) are not used: there
the coverage map of the data itself tells whether others were heard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from sitewatch.store.db import Store


class Outages:
    """Recorded outages with a box (see the module docstring)."""

    def __init__(self, rows: Sequence[dict[str, Any]] = ()) -> None:
        rows = [r for r in rows if r.get("lat_min") is not None]

        def col(k: str) -> np.ndarray:
            return np.array([float(r[k]) for r in rows], np.float64)

        self.t0 = np.array([r["t_start_utc"].timestamp() for r in rows], np.float64)
        self.t1 = np.array([r["t_end_utc"].timestamp() for r in rows], np.float64)
        self.lat_min, self.lat_max = col("lat_min"), col("lat_max")
        self.lon_min, self.lon_max = col("lon_min"), col("lon_max")
        self.feeds = [str(r.get("feed")) for r in rows]

    @classmethod
    def load(cls, store: Store, source: str = "adsb", t_from: datetime | None = None,
             t_to: datetime | None = None) -> Outages:
        from sitewatch.store.feed_outages import outages

        return cls(outages(store, source, t_from, t_to, with_area=True))

    def __len__(self) -> int:
        return int(self.t0.size)

    def blind(self, points: Sequence[tuple[float, float]], t0: float, t1: float) -> list[tuple[float, float]]:
        """Merged stretches of ``[t0, t1]`` inside an outage whose box holds one of ``points``."""
        if not len(self) or t1 <= t0:
            return []
        hit = np.zeros(len(self), bool)
        for lat, lon in points:
            hit |= (self.lat_min <= lat) & (lat <= self.lat_max) & (self.lon_min <= lon) & (lon <= self.lon_max)
        hit &= (self.t1 > t0) & (self.t0 < t1)
        spans = sorted((max(t0, float(a)), min(t1, float(b))) for a, b in zip(self.t0[hit], self.t1[hit], strict=True))
        merged: list[tuple[float, float]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    @staticmethod
    def seconds(spans: Sequence[tuple[float, float]]) -> float:
        return float(sum(b - a for a, b in spans))

    @staticmethod
    def bins_blind(spans: Sequence[tuple[float, float]], tbs: np.ndarray, bin_s: float) -> np.ndarray:
        """Per time bin (index ``tbs`` of bins of ``bin_s``): is its middle inside one of ``spans``?"""
        mid = (np.asarray(tbs, np.float64) + 0.5) * bin_s
        out = np.zeros(mid.shape, bool)
        for a, b in spans:
            out |= (mid >= a) & (mid <= b)
        return out
