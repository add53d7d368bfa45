"""Tracktable's plain-text trajectory format (``.traj``), as shipped by ``tracktable-data``.

One trajectory per line, comma separated::

    *T*,[uuid,]DOMAIN,N_POINTS,N_TRAJ_PROPS,[name,type,value]*N_TRAJ_PROPS,
    *P*,DOMAIN,N_COORDS,HAS_ID,HAS_TIME,N_POINT_PROPS,[name,type]*N_POINT_PROPS,
    then N_POINTS × (object_id, "YYYY-mm-dd HH:MM:SS", lon, lat[, coord…][, prop…])

(the trajectory uuid is absent in files of older tracktable versions). For AIS the object
id is the MMSI and the domain is ``terrestrial`` (longitude first). Times carry no zone;
they are UTC (MarineCadastre's convention). Point properties named like ``speed``/``sog``,
``heading``, ``course``/``cog`` or ``status`` fill the matching columns.

Bad-record policy: a trajectory line whose header or point count does not parse is
quarantined whole (line number, reason); a point with a bad time or coordinates out of
range is quarantined alone (the line number, the point's index in the reason). A file whose
first trajectory's object id is not an MMSI is not AIS: :class:`FormatError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from sitewatch.errors import FormatError
from sitewatch.sources.ais._common import coord_ok, norm_mmsi, positions_table, valid_mmsi
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register, text_lines

BATCH_POINTS = 200_000
_PROP_COLUMNS = {
    "speed": "speed_kt", "sog": "speed_kt", "speed_kt": "speed_kt",
    "heading": "heading_deg", "true_heading": "heading_deg",
    "course": "track_deg", "cog": "track_deg",
    "status": "status_code", "nav_status": "status_code",
}


class _Header:
    __slots__ = ("first", "n_coords", "n_points", "prop_names")

    def __init__(self, n_points: int, n_coords: int, prop_names: list[str], first: int) -> None:
        self.n_points = n_points
        self.n_coords = n_coords
        self.prop_names = prop_names
        self.first = first  # index of the first point field

    @property
    def stride(self) -> int:
        return 2 + self.n_coords + len(self.prop_names)


def _parse_header(fields: list[str]) -> _Header:
    if not fields or fields[0] != "*T*":
        raise ValueError("does not start with *T*")
    i = 1
    if fields[i + 1].isdigit() is False and fields[i + 2].isdigit():
        i += 1  # a uuid precedes the domain
    i += 1  # domain
    n_points = int(fields[i])
    n_tprops = int(fields[i + 1])
    i += 2 + 3 * n_tprops
    if fields[i] != "*P*":
        raise ValueError(f"expected *P* at field {i + 1}, found {fields[i][:20]!r}")
    n_coords, has_id, has_time, n_pprops = (int(f) for f in fields[i + 2:i + 6])
    if n_coords < 2 or has_id != 1 or has_time != 1:
        raise ValueError("points need an object id, a time and at least 2 coordinates")
    i += 6
    names = [fields[i + 2 * k].strip().lower() for k in range(n_pprops)]
    i += 2 * n_pprops
    return _Header(n_points, n_coords, names, i)


@register
class TrajReader:
    kind = "ais"
    name = "traj"

    def sniff(self, head: bytes, name: str) -> float:
        if not head.startswith(b"*T*,"):
            return 0.0
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").split(",")
        try:
            h = _parse_header(first)
            oid = first[h.first].strip().strip('"')
        except (ValueError, IndexError):
            return 0.3
        return 0.95 if valid_mmsi(oid) else 0.1

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        acc: dict[str, list[Any]] = {k: [] for k in ("mmsi", "t", "lon", "lat", "off", *set(_PROP_COLUMNS.values()))}
        rejects: list[Reject] = []
        counters = {"trajectories": 0}
        n_acc = 0
        checked = False
        for lineno, line in text_lines(src):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip(",").split(",")
            try:
                h = _parse_header(fields)
                pts = fields[h.first:]
                if len(pts) != h.n_points * h.stride:
                    raise ValueError(f"{len(pts)} point fields for {h.n_points} points of {h.stride} fields")
            except (ValueError, IndexError) as exc:
                rejects.append(Reject(lineno, line, f"trajectory header: {exc}"))
                continue
            grid = np.array([p.strip().strip('"') for p in pts], dtype=object).reshape(h.n_points, h.stride)
            if not checked and h.n_points:
                if not valid_mmsi(str(grid[0, 0])):
                    raise FormatError(
                        f"object id {grid[0, 0]!r} is not an MMSI: not AIS trajectories; "
                        "ingest aircraft tracks with `sitewatch ingest adsb`", path=src.name, offset=lineno)
                checked = True
            counters["trajectories"] += 1
            n_acc += self._points(grid, h, lineno, line, acc, rejects)
            if n_acc >= BATCH_POINTS:
                yield self._batch(acc, rejects, counters)
                acc = {k: [] for k in acc}
                rejects, counters, n_acc = [], {"trajectories": 0}, 0
        if n_acc or rejects or counters["trajectories"]:
            yield self._batch(acc, rejects, counters)

    def _points(self, grid: np.ndarray, h: _Header, lineno: int, line: str,
                acc: dict[str, list[Any]], rejects: list[Reject]) -> int:
        n = h.n_points
        t = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
        lon = np.full(n, np.nan)
        lat = np.full(n, np.nan)
        why = np.full(n, "", dtype=object)
        try:  # whole columns at once; point by point only to locate a failure
            t = grid[:, 1].astype("datetime64[us]")
            lon = grid[:, 2].astype(np.float64)
            lat = grid[:, 3].astype(np.float64)
        except ValueError:
            for k in range(n):
                try:
                    t[k] = np.datetime64(grid[k, 1], "us")
                    lon[k] = float(grid[k, 2])
                    lat[k] = float(grid[k, 3])
                except ValueError as exc:
                    why[k] = str(exc)
        ok = (why == "") & ~np.isnat(t)
        bad_coord = ok & ~coord_ok(lat, lon)
        why[bad_coord] = "latitude/longitude out of range"
        ids = grid[:, 0]
        bad_id = np.array([not valid_mmsi(str(x)) for x in ids])
        why[bad_id & (why == "")] = "object id is not an MMSI"
        keep = (why == "") & ~np.isnat(t)
        for j in np.flatnonzero(~keep).tolist():
            reason = f"point {j + 1} of the trajectory: {why[j] or 'bad time'}"
            rejects.append(Reject(lineno, ",".join(grid[j]), reason))
        m = int(keep.sum())
        acc["mmsi"].extend(norm_mmsi(str(x)) for x in ids[keep])
        acc["t"].append(t[keep].astype(np.int64))
        acc["lon"].append(lon[keep])
        acc["lat"].append(lat[keep])
        acc["off"].append(np.full(m, lineno, dtype=np.int64))
        for j, pname in enumerate(h.prop_names):
            col = _PROP_COLUMNS.get(pname)
            if col is None:
                continue
            vals = np.array([_num(v) for v in grid[keep, 2 + h.n_coords + j]])
            acc[col].append(vals)
        for col in set(_PROP_COLUMNS.values()):
            if col not in {_PROP_COLUMNS.get(p) for p in h.prop_names}:
                acc[col].append(np.full(m, np.nan))
        return m

    def _batch(self, acc: dict[str, list[Any]], rejects: list[Reject], counters: dict[str, int]) -> Batch:
        def cat(k: str, dtype: Any) -> np.ndarray:
            return np.concatenate(acc[k]) if acc[k] else np.zeros(0, dtype=dtype)

        status = cat("status_code", np.float64)
        rows = positions_table(
            t_utc_us=cat("t", np.int64), mmsi=np.array(acc["mmsi"], dtype=object),
            lat=cat("lat", np.float64), lon=cat("lon", np.float64), fmt="traj",
            rec_offset=cat("off", np.int64), speed_kt=cat("speed_kt", np.float64),
            track_deg=cat("track_deg", np.float64), heading_deg=cat("heading_deg", np.float64),
            status_code=np.where(np.isnan(status), -1, status).astype(np.int64),
        )
        return Batch("positions", rows, rejects, dict(counters))


def _num(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        return float("nan")
