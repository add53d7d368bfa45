"""One way to build a ``WHERE`` clause: conditions added one by one, values always bound.

>>> w = Where().eq("site", "hmeimim").since("t_start", None).any("kind", ["arrival", "departure"])
>>> w.sql, w.params
('site = ? AND kind IN (?, ?)', ['hmeimim', 'arrival', 'departure'])
>>> Where().sql
'TRUE'

A condition whose value is ``None`` is left out (an unset filter filters nothing); column
names are the caller's literals, never user input. :meth:`Where.raw` adds a condition
written by hand, still with ``?`` parameters; :meth:`Where.either` adds alternatives.

>>> Where("source = 'adsb'").either(Where().any("typecode", ["C17"]), Where("military")).sql
"source = 'adsb' AND ((typecode IN (?)) OR (military))"

Every store module that filters by caller-given values builds its ``WHERE`` here; the SQL
text of a query is then fixed but for the conditions present.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

BBox = tuple[float, float, float, float]
"""A bounding box: (min_lon, min_lat, max_lon, max_lat)."""


class Where:
    """Conditions joined by ``AND``; :attr:`sql` and :attr:`params` for the query."""

    __slots__ = ("_parts", "params")

    def __init__(self, *conditions: str) -> None:
        self._parts: list[str] = [c for c in conditions if c and c != "TRUE"]
        self.params: list[Any] = []

    def raw(self, condition: str, *params: Any) -> Where:
        """A condition as written (``?`` placeholders bound to ``params``)."""
        self._parts.append(condition)
        self.params.extend(params)
        return self

    def eq(self, column: str, value: Any) -> Where:
        return self if value is None else self.raw(f"{column} = ?", value)

    def any(self, column: str, values: Iterable[Any] | None) -> Where:
        """``column IN (…)``; an empty list matches nothing, ``None`` everything."""
        if values is None:
            return self
        vals = list(values)
        if not vals:
            return self.raw("FALSE")
        return self.raw(f"{column} IN ({', '.join('?' for _ in vals)})", *vals)

    def since(self, column: str, value: Any) -> Where:
        """``column >= value`` (the start of a window, inclusive)."""
        return self if value is None else self.raw(f"{column} >= ?", value)

    def before(self, column: str, value: Any) -> Where:
        """``column < value`` (the end of a window, exclusive)."""
        return self if value is None else self.raw(f"{column} < ?", value)

    def window(self, t_from: Any, t_to: Any, start: str = "t_start", end: str | None = "t_end") -> Where:
        """Rows that overlap [t_from, t_to): ending (``coalesce(end, start)``) at or after
        ``t_from`` and starting before ``t_to``; with ``end=None`` the start alone is tested."""
        last = start if end is None else f"coalesce({end}, {start})"
        return self.since(last, t_from).before(start, t_to)

    def bbox(self, box: Sequence[float] | None, lat: str = "lat", lon: str = "lon") -> Where:
        """Inside (min_lon, min_lat, max_lon, max_lat)."""
        if box is None:
            return self
        x0, y0, x1, y1 = box
        return self.raw(f"{lon} BETWEEN ? AND ? AND {lat} BETWEEN ? AND ?", x0, x1, y0, y1)

    def either(self, *alternatives: Where) -> Where:
        """One condition: any of ``alternatives`` holds (those without conditions are left
        out; with none left, nothing is added)."""
        used = [w for w in alternatives if w]
        if not used:
            return self
        return self.raw("(" + " OR ".join(f"({w.sql})" for w in used) + ")", *[p for w in used for p in w.params])

    @property
    def sql(self) -> str:
        return " AND ".join(self._parts) or "TRUE"

    def __bool__(self) -> bool:
        return bool(self._parts)

    def __repr__(self) -> str:
        return f"Where({self.sql!r}, {self.params!r})"
