"""Raw-frame readers' common back end: chunks of frames → decoder → ``positions`` + ``aircraft``.

:class:`FrameSink` owns one :class:`~sitewatch.modes.ModeSDecoder` per input file (CPR
state carries across the file's chunks, never across files) and turns each decoded
chunk into

* a ``positions`` batch: one row per frame that yielded a position, with the frame's
  altitude, the latest velocity (≤ 10 s), callsign and squawk of the aircraft, the
  format name and the frame's line/byte offset; ``time_inferred`` when the file's times
  were built from ``--start``; ``status`` says how the CPR position was decoded
  (:data:`CPR_STATUS`): ``cpr-global`` (an even/odd pair), ``cpr-local`` (one frame
  against the aircraft's own recent fix) or ``cpr-ref`` (one frame against the receiver
  reference, ``--ref``/``--airport``: a lone frame or an aircraft heard in one parity);
* at :meth:`FrameSink.finish`, one ``aircraft`` batch for the file: address, ADS-B
  emitter category (from identification messages), military flag from the address ranges;
* the decoder's counters for the chunk (CRC repairs and failures, CPR pairing, jumps).

Frames that are not hex of a valid length are quarantined by the caller's offsets.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from sitewatch.modes import ModeSDecoder
from sitewatch.modes.decoder import Decoded
from sitewatch.reference.aircraft_db import military_by_address
from sitewatch.sources.base import Batch, ReadOptions, Reject

CHUNK_FRAMES = 200_000
CPR_STATUS = ("cpr-global", "cpr-local", "cpr-ref")  # positions.status of decoded frames
_TS = pa.timestamp("us", tz="UTC")


class FrameSink:
    """Decode chunks of one file's frames into store batches (see the module docstring)."""

    def __init__(self, fmt: str, opts: ReadOptions, time_inferred: bool = False) -> None:
        self.fmt = fmt
        self.decoder = ModeSDecoder(reference=opts.reference)
        self.time_inferred = time_inferred
        self._reported: Counter[str] = Counter()
        self._categories: dict[int, str] = {}

    def batches(self, msg: np.ndarray, nbytes: np.ndarray, t_s: np.ndarray, offsets: np.ndarray,
                rejects: list[Reject]) -> list[Batch]:
        """Decode one chunk (rows with ``nbytes == 0`` are skipped: the caller rejected them)."""
        good = nbytes > 0
        out: list[Batch] = []
        if good.any():
            d = self.decoder.decode(msg[good], nbytes[good], t_s[good])
            out.append(Batch("positions", self._positions(d, offsets[good]), rejects, self._delta()))
            self._note_aircraft(d)
        else:
            out.append(Batch("positions", pa.table({}), rejects, self._delta()))
        return out

    def _delta(self) -> dict[str, int]:
        now = self.decoder.counters
        delta = {k: int(v - self._reported.get(k, 0)) for k, v in now.items() if v != self._reported.get(k, 0)}
        self._reported = Counter(now)
        return delta

    def _positions(self, d: Decoded, offsets: np.ndarray) -> pa.Table:
        rows = np.flatnonzero(d.pos_kind > 0)
        t_us = np.round(d.t[rows] * 1e6).astype(np.int64)
        icao = d.icao[rows]
        ids = np.char.mod("%06x", icao.astype(np.int64)).astype(object)
        if d.non_icao[rows].any():
            ids = np.where(d.non_icao[rows], np.char.add("~", ids.astype(str)), ids).astype(object)
        surf = d.onground[rows] == 1
        sq = d.ctx_squawk[rows]
        squawk = np.char.mod("%04o", np.maximum(sq, 0)).astype(object)
        squawk[sq < 0] = None
        n = rows.size
        how = np.where(d.cpr_ref[rows], 2, np.where(np.isin(d.pos_kind[rows], (1, 3)), 0, 1))
        return pa.table({
            "t_utc": pa.array(t_us, pa.timestamp("us", tz="UTC")),
            "source": pa.repeat(pa.scalar("adsb"), n),
            "id": pa.array(ids, pa.string()),
            "lat": pa.array(d.lat[rows]),
            "lon": pa.array(d.lon[rows]),
            "alt_ft": pa.array(np.where(surf, np.nan, d.alt_ft[rows]), pa.float64(), from_pandas=True),
            "speed_kt": pa.array(d.ctx_speed_kt[rows], pa.float64(), from_pandas=True),
            "track_deg": pa.array(d.ctx_track_deg[rows], pa.float64(), from_pandas=True),
            "vrate_fpm": pa.array(d.ctx_vrate_fpm[rows], pa.float64(), from_pandas=True),
            "heading_deg": pa.array(d.ctx_heading_deg[rows], pa.float64(), from_pandas=True),
            "onground": pa.array(surf),
            "callsign": pa.array(d.ctx_callsign[rows], pa.string()),
            "squawk": pa.array(squawk, pa.string()),
            "status": pa.DictionaryArray.from_arrays(pa.array(how, pa.int8()),
                                                     pa.array(CPR_STATUS)).cast(pa.string()),
            "time_inferred": pa.repeat(pa.scalar(self.time_inferred), n),
            "format": pa.repeat(pa.scalar(self.fmt), n),
            "rec_offset": pa.array(offsets[rows], pa.int64()),
        })

    def _note_aircraft(self, d: Decoded) -> None:
        rows = np.flatnonzero(d.ok & np.isin(d.df, [17, 18]) & ~d.non_icao)
        for a in np.unique(d.icao[rows]).tolist():
            self._categories.setdefault(a, "")
        ident = rows[(d.tc[rows] >= 1) & (d.tc[rows] <= 4)]
        for a, cat in zip(d.icao[ident].tolist(), d.category[ident].tolist(), strict=True):
            if cat:
                self._categories[a] = cat

    def finish(self) -> list[Batch]:
        """The ``aircraft`` batch for the whole file (call once, after the last chunk)."""
        if not self._categories:
            return []
        icao = np.array(list(self._categories), dtype=np.int64)
        now = datetime.now(UTC)
        n = icao.size
        t = pa.table({
            "icao24": pa.array([f"{a:06x}" for a in icao.tolist()], pa.string()),
            "category": pa.array([c or None for c in self._categories.values()], pa.string()),
            "military": pa.array(military_by_address(icao)),
            "db_source": pa.repeat(pa.scalar(f"feed:{self.fmt}"), n),
            "t_updated_utc": pa.array([now] * n, _TS),
        })
        return [Batch("aircraft", t)]
