"""Per-aircraft forward fill on columns, with state carried between chunks of one file.

Decoded feeds (SBS, readsb JSON) send identity, velocity and position in different
messages; a position row takes the latest earlier value of each field for the same
aircraft. :class:`ForwardFill` does that with one sort and one ``maximum.accumulate``
per field, and remembers each aircraft's last values for the next chunk.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ForwardFill:
    """Fill ``fields`` on target rows from the latest earlier row of the same key."""

    def __init__(self, fields: tuple[str, ...], max_age_s: dict[str, float] | None = None) -> None:
        self.fields = fields
        self.max_age_s = max_age_s or {}
        self._last: dict[str, dict[Any, tuple[float, Any]]] = {f: {} for f in fields}

    def fill(self, key: np.ndarray, t: np.ndarray, cols: dict[str, np.ndarray],
             target: np.ndarray) -> dict[str, np.ndarray]:
        """Return filled copies of ``cols[f]`` (object or float arrays; None/NaN = missing)."""
        n = key.size
        order = np.lexsort((t, key))
        k, ts = key[order], t[order]
        ar = np.arange(n)
        out: dict[str, np.ndarray] = {}
        for f in self.fields:
            v = cols[f][order]
            has = _present(v)
            src = np.maximum.accumulate(np.where(has, ar, -1)) if n else ar
            same = (src >= 0) & (k[np.maximum(src, 0)] == k)
            age = self.max_age_s.get(f)
            if age is not None:
                same &= ts - ts[np.maximum(src, 0)] <= age
            filled = v.copy()
            tgt = target[order] & ~has
            take = tgt & same
            filled[take] = v[src[take]]
            # rows with nothing earlier in this chunk: the aircraft's last value from before
            last = self._last[f]
            if last:
                for i in np.flatnonzero(tgt & ~same):
                    prev = last.get(k[i])
                    if prev is not None and (age is None or ts[i] - prev[0] <= age):
                        filled[i] = prev[1]
            # remember the last value of each aircraft for the next chunk
            hi = np.flatnonzero(has)
            if hi.size:
                lastrow = np.r_[k[hi][1:] != k[hi][:-1], True]
                for i in hi[lastrow]:
                    last[k[i]] = (float(ts[i]), v[i])
            res = np.empty_like(filled)
            res[order] = filled
            out[f] = res
        return out


def _present(v: np.ndarray) -> np.ndarray:
    if v.dtype.kind == "f":
        return ~np.isnan(v)
    # elementwise in C on the object array (None and "" are both "missing")
    return np.asarray((v != None) & (v != ""), dtype=bool)  # noqa: E711
