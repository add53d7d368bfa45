"""Live ADS-B: a receiver's Beast (port 30005) or SBS (port 30003) TCP output into the store.

Contract: :class:`AdsbStream` connects as a client, parses what arrives, and every
``commit_s`` seconds (or ``batch_frames`` frames) decodes the pending frames with the same
decoder as file ingest — CPR state carried for the whole session — and commits positions,
aircraft, quarantined bytes, counters and the session's ``ingest_log`` totals in **one
transaction** (:mod:`sitewatch.live.base`): a crash loses at most the batch being built (a
few seconds). When the feed drops it reconnects with a backoff (:mod:`sitewatch.live._net`);
the parser restarts clean, the decoder keeps its state.

Times: SBS lines carry their own. Beast carries a 12 MHz counter, not a date: a frame's
time is the reception time of the first frame plus the counter's elapsed ticks, and the
anchor is reset (``clock_resync``) whenever that drifts more than ``resync_s`` from the
wall clock (counter reset, reconnect to another receiver).

Stops on :meth:`stop`, after ``max_s`` seconds or ``max_messages`` frames (``max_frames``,
the older name, works too), or Ctrl-C.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sitewatch.live.base import LiveFeed
from sitewatch.sources.adsb._frames import FrameSink
from sitewatch.sources.adsb.beast import BeastParser
from sitewatch.sources.adsb.sbs import new_fill, read_sbs
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject
from sitewatch.store.db import Store
from sitewatch.store.writer import Written


@dataclass
class StreamStats:
    frames: int = 0
    positions: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    connects: int = 0
    disconnects: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    aircraft: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("aircraft", "started")}
        out["aircraft"] = len(self.aircraft)
        out["elapsed_s"] = round(time.monotonic() - self.started, 1)
        return out

    def rate_line(self) -> str:
        dt = max(time.monotonic() - self.started, 1e-6)
        return (f"frames {self.frames} ({self.frames / dt:.0f}/s)  positions {self.positions} "
                f"({self.positions / dt:.1f}/s)  aircraft {len(self.aircraft)}  batches {self.batches}  "
                f"reconnects {max(self.connects - 1, 0)}")


class _LiveClock:
    """Beast ticks → Unix seconds anchored on the wall clock."""

    def __init__(self, resync_s: float, wall: Callable[[], float]) -> None:
        self.resync_s = resync_s
        self.wall = wall
        self.anchor: tuple[int, float] | None = None
        self.resyncs = 0

    def time(self, tick: int) -> float:
        now = self.wall()
        if self.anchor is not None:
            t = self.anchor[1] + (tick - self.anchor[0]) / 12e6
            if abs(t - now) <= self.resync_s:
                return t
            self.resyncs += 1
        self.anchor = (tick, now)
        return now


class AdsbStream(LiveFeed):
    """One live session; see the module docstring."""

    kind = "adsb"
    counted = ("positions",)

    def __init__(self, store: Store, mode: str, host: str, port: int, commit_s: float = 2.0,
                 batch_frames: int = 20_000, max_s: float | None = None, max_frames: int | None = None,
                 reference: tuple[float, float] | None = None, backoff_s: float = 0.5,
                 backoff_max_s: float = 30.0, resync_s: float = 2.0,
                 on_batch: Callable[[StreamStats], None] | None = None,
                 wall: Callable[[], float] = time.time, max_messages: int | None = None) -> None:
        if mode not in ("beast", "sbs"):
            raise ValueError(f"mode must be 'beast' or 'sbs', not {mode!r}")
        super().__init__(store, commit_s=commit_s, batch_size=batch_frames, max_s=max_s,
                         max_messages=max_messages if max_messages is not None else max_frames,
                         backoff_s=backoff_s, backoff_max_s=backoff_max_s, on_batch=on_batch, stats=StreamStats())
        self.mode, self.host, self.port = mode, host, port
        self.fmt = mode
        self.batch_frames = batch_frames
        self._sink = FrameSink(mode, ReadOptions(reference=reference))
        self._clock = _LiveClock(resync_s, wall)
        self._fill = new_fill()
        self._beast = BeastParser()
        self._pending_frames: list[tuple[bytes, float, int]] = []
        self._rejects: list[Reject] = []
        self._sbs_buf = b""
        self._sbs_lines: list[bytes] = []
        self._offset = 0  # bytes received this session (offsets of quarantined bytes)

    @property
    def max_frames(self) -> int | None:
        return self.max_messages

    @property
    def source(self) -> str:
        return f"{self.mode}://{self.host}:{self.port}"

    def options(self) -> dict[str, object]:
        return {"commit_s": self.commit_s, "batch_frames": self.batch_frames}

    def _address(self) -> tuple[str, int]:
        return self.host, self.port

    # -- parsing --------------------------------------------------------------------------
    def _disconnected(self) -> None:
        if self.mode == "beast":
            self._rejects.extend(Reject(off, raw.hex(), kind, "byte")
                                 for kind, off, raw, _ in self._beast.feed(b"", eof=True))
            self._beast = BeastParser()
            self._beast.base = self._offset
        else:
            if self._sbs_buf.strip():  # a line cut by the drop
                self._rejects.append(Reject(self._offset - len(self._sbs_buf),
                                            self._sbs_buf[:2000].decode("utf-8", "replace"),
                                            "line cut by a dropped connection", "byte"))
            self._sbs_buf = b""

    def _take(self, data: bytes) -> None:
        self._offset += len(data)
        if self.mode == "beast":
            for kind, off, payload, tick in self._beast.feed(data):
                if kind == "frame":
                    if len(payload) in (7, 14):
                        self._pending_frames.append((payload, self._clock.time(tick), off))
                        self.stats.frames += 1
                elif kind != "status":
                    self._rejects.append(Reject(off, payload.hex(), kind, "byte"))
        else:
            buf = self._sbs_buf + data
            *lines, self._sbs_buf = buf.split(b"\n")
            self._sbs_lines.extend(ln for ln in lines if ln.strip())
            self.stats.frames += sum(1 for ln in lines if ln.startswith(b"MSG"))
            if len(self._sbs_buf) > 1 << 16:  # no newline in 64 KiB: not SBS; drop it, say so
                self._rejects.append(Reject(self._offset, self._sbs_buf[:200].decode("utf-8", "replace"),
                                            "line longer than 64 KiB", "byte"))
                self._sbs_buf = b""

    def _pending(self) -> int:
        return len(self._pending_frames) + len(self._sbs_lines)

    def _messages(self) -> int:
        return int(self.stats.frames)

    # -- committing -----------------------------------------------------------------------
    def _batches(self, final: bool) -> list[Batch]:
        batches: list[Batch] = []
        if self.mode == "beast" and self._pending_frames:
            n = len(self._pending_frames)
            msg = np.zeros((n, 14), np.uint8)
            nb = np.zeros(n, np.int8)
            for i, (fr, _, _) in enumerate(self._pending_frames):
                msg[i, : len(fr)] = np.frombuffer(fr, np.uint8)
                nb[i] = len(fr)
            t = np.array([p[1] for p in self._pending_frames])
            offs = np.array([p[2] for p in self._pending_frames], np.int64)
            batches.extend(self._sink.batches(msg, nb, t, offs, self._rejects))
            batches.extend(self._sink.finish())
            self._sink.decoder.counters["clock_resync"] = self._clock.resyncs
        elif self.mode == "sbs" and self._sbs_lines:
            # bytes that are not UTF-8 (line noise) would fail the whole batch in the CSV parser
            text = (b"\n".join(self._sbs_lines) + b"\n").decode("utf-8", "replace").encode()
            src = InputFile(self.source, lambda: io.BytesIO(text), len(text))
            batches.extend(read_sbs(src, self._fill))
            if self._rejects:
                batches.append(Batch("positions", batches[0].rows.slice(0, 0) if batches else _no_rows(),
                                     list(self._rejects)))
        elif self._rejects:
            batches.append(Batch("positions", _no_rows(), list(self._rejects)))
        self._pending_frames, self._sbs_lines, self._rejects = [], [], []
        return batches

    def _committed(self, written: Written, batches: list[Batch], final: bool) -> None:
        self.stats.positions += written.accepted
        self.stats.duplicates += written.duplicates
        for b in batches:
            if b.table == "positions" and b.rows.num_rows:
                self.stats.aircraft.update(b.rows.column("id").to_pylist())


def _no_rows() -> Any:
    import pyarrow as pa

    return pa.table({})
