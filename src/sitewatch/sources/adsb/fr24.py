"""``fr24`` format: Flightradar24's per-flight CSV export.

Header ``Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction``; ``Position`` is
``"lat,lon"`` in quotes, altitude in ft, speed in kt, direction = track in degrees;
``Timestamp`` is Unix seconds (``UTC`` is the same time as text). The export carries no
ICAO address, so the reader needs it: ``--icao24 HEX`` (shown on the flight's page);
without it the file is refused with that advice. Bad lines are quarantined by line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from sitewatch.errors import FormatError, InputError
from sitewatch.sources.adsb._common import BATCH_ROWS, parse_time_value, positions_batch, watch_filtered
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register, text_lines

FORMAT = "fr24"
HEADER = ["timestamp", "utc", "callsign", "position", "altitude", "speed", "direction"]
_TS = pa.timestamp("us", tz="UTC")


@register
class Fr24Reader:
    kind = "adsb"
    name = FORMAT

    def sniff(self, head: bytes, name: str) -> float:
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r").lower()
        return 0.95 if [c.strip() for c in first.split(",")] == HEADER else 0.0

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        icao = str(opts.extra.get("icao24") or "").strip().lower()
        if not icao:
            raise InputError("a Flightradar24 CSV export has no ICAO address: pass --icao24 HEX "
                             "(the aircraft's Mode S code, e.g. --icao24 3b7777)", path=src.name)
        lines = text_lines(src)
        _, header = next(lines, (0, ""))
        if [c.strip().lower() for c in header.split(",")] != HEADER:
            raise FormatError(f"not a Flightradar24 CSV: header must be {','.join(h.title() for h in HEADER)}",
                              path=src.name, offset=1)
        rows: dict[str, list] = {k: [] for k in ("t", "lat", "lon", "alt", "gs", "trk", "cs", "off", "raw")}
        rejects: list[Reject] = []
        for no, line in lines:
            if not line.strip():
                continue
            try:
                f = next(csv.reader(io.StringIO(line)))
                if len(f) != 7:
                    raise ValueError(f"{len(f)} fields, the header has 7")
                t = parse_time_value(f[0]) or parse_time_value(f[1])
                if t is None:
                    raise ValueError(f"unreadable time {f[0]!r}")
                lat_s, lon_s = f[3].split(",")
                vals = (float(lat_s), float(lon_s), _opt(f[4]), _opt(f[5]), _opt(f[6]))
            except ValueError as exc:
                rejects.append(Reject(no, line, str(exc)))
                continue
            for k, v in zip(("t", "lat", "lon", "alt", "gs", "trk"), (t, *vals), strict=True):
                rows[k].append(v)
            rows["cs"].append(f[2].strip() or None)
            rows["off"].append(no)
            rows["raw"].append(line)
            if len(rows["off"]) >= BATCH_ROWS:
                yield _batch(rows, icao, rejects)
                rows = {k: [] for k in rows}
                rejects = []
        if rows["off"] or rejects:
            yield _batch(rows, icao, rejects)


def _opt(v: str) -> float | None:
    v = v.strip()
    return float(v) if v else None


def _batch(rows: dict[str, list], icao: str, rejects: list[Reject]) -> Batch:
    n = len(rows["off"])
    canon = pa.table({
        "t_utc": pa.array(rows["t"], _TS), "id": pa.array([icao] * n, pa.string()),
        "lat": pa.array(rows["lat"], pa.float64()), "lon": pa.array(rows["lon"], pa.float64()),
        "alt_ft": pa.array(rows["alt"], pa.float64()), "speed_kt": pa.array(rows["gs"], pa.float64()),
        "track_deg": pa.array(rows["trk"], pa.float64()), "callsign": pa.array(rows["cs"], pa.string()),
    })
    raw = rows["raw"]
    b = positions_batch(canon, np.array(rows["off"], np.int64), FORMAT, lambda i: raw[i], "line")
    b.rejects[:0] = rejects
    return b
