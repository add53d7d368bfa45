"""Live AIS: NMEA lines from a TCP feed (client) or UDP datagrams (listener) into the store.

Contract: :class:`AisStream` reads lines, and every ``commit_s`` seconds (``batch_s``, the
older name, works too; or ``batch_lines`` lines) parses them with
:class:`~sitewatch.sources.ais.nmea.NmeaParser` and commits the batch — positions, static
reports, quarantined lines, counters and the session's ``ingest_log`` totals — in **one
transaction** (:mod:`sitewatch.live.base`): a crash loses at most the uncommitted batch,
and the session's row counts exactly what was kept. A sentence without a time of its own gets the
reception time of its batch (flagged explicit: it is a measured time, late by at most the
batch interval). The vessels table is refreshed every ``refresh_s`` and at the end.

Bounded memory: at most ``batch_lines`` lines wait for a commit; a "line" longer than
``max_line_bytes`` without a newline is quarantined and dropped from the buffer; the
multi-sentence assembler keys on (sequence id, channel), so its state is bounded too.

TCP: the reconnecting reader of every live feed (:mod:`sitewatch.live._net`): on a refused
connection, a reset or an end of stream, it reconnects after a backoff that doubles from
``backoff_s`` up to ``backoff_max_s`` (reset once data flows again). UDP: each datagram
holds one or more lines. Stops on :meth:`stop`, ``max_s`` or ``max_messages``, or Ctrl-C in
the CLI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from sitewatch.live._net import Chunk, udp_chunks
from sitewatch.live.base import LiveFeed
from sitewatch.sources.ais.nmea import NmeaParser
from sitewatch.sources.base import Batch, Reject
from sitewatch.store.db import Store
from sitewatch.store.writer import Written

log = logging.getLogger(__name__)


@dataclass
class StreamStats:
    lines: int = 0
    messages: int = 0
    positions: int = 0
    reports: int = 0
    rejected: int = 0
    batches: int = 0
    connects: int = 0
    disconnects: int = 0
    bytes: int = 0
    counters: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "counters"}
        out["counters"] = dict(self.counters)
        return out


class AisStream(LiveFeed):
    """One live AIS session over TCP (``tcp=(host, port)``) or UDP (``udp_port``)."""

    kind = "ais"
    fmt = "nmea"
    counted = ("positions", "vessel_reports")
    tick_s = 0.2

    def __init__(self, store: Store, tcp: tuple[str, int] | None = None, udp_port: int | None = None,
                 udp_host: str = "0.0.0.0", batch_s: float = 1.0, batch_lines: int = 50_000,
                 max_line_bytes: int = 4096, backoff_s: float = 0.5, backoff_max_s: float = 30.0,
                 refresh_s: float = 60.0, max_s: float | None = None, max_messages: int | None = None,
                 watch: Sequence[str] = (), on_batch: Callable[[StreamStats], None] | None = None,
                 commit_s: float | None = None, provenance: dict[str, object] | None = None) -> None:
        if (tcp is None) == (udp_port is None):
            raise ValueError("give exactly one of tcp=(host, port) or udp_port")
        super().__init__(store, commit_s=commit_s if commit_s is not None else batch_s, batch_size=batch_lines,
                         max_s=max_s, max_messages=max_messages, backoff_s=backoff_s, backoff_max_s=backoff_max_s,
                         on_batch=on_batch, stats=StreamStats())
        self.tcp, self.udp_port, self.udp_host = tcp, udp_port, udp_host
        self.batch_lines, self.max_line_bytes, self.refresh_s = batch_lines, max_line_bytes, refresh_s
        self.watch = list(watch)
        self.provenance = provenance  # the publisher's terms, for a known open feed (Kystverket)
        self.bound_port: int | None = None  # the UDP port actually bound (useful with port 0)
        self.parser = NmeaParser(fmt="nmea-stream")
        self._buf = bytearray()
        self._lines = 0
        self._next_line = 1
        self._t_refresh = time.monotonic()
        self._pending_rejects: list[Reject] = []

    @property
    def batch_s(self) -> float:
        return self.commit_s

    @property
    def source(self) -> str:
        return f"tcp://{self.tcp[0]}:{self.tcp[1]}" if self.tcp else f"udp://{self.udp_host}:{self.udp_port}"

    def options(self) -> dict[str, object]:
        out: dict[str, object] = {"commit_s": self.commit_s, "batch_lines": self.batch_lines}
        if self.provenance:
            out["provenance"] = self.provenance
        return out

    @property
    def file_id(self) -> int | None:
        return None if self.writer is None else self.writer.file_id

    # -- transport ---------------------------------------------------------------------------
    def _address(self) -> tuple[str, int]:
        assert self.tcp is not None
        return self.tcp

    def _transport(self) -> Iterator[Chunk]:
        if self.tcp:
            return super()._transport()
        assert self.udp_port is not None
        return udp_chunks(self.udp_host, self.udp_port, self._stop, self.tick_s, on_bind=self._bound)

    def _bound(self, port: int) -> None:
        self.bound_port = port
        self._ready.set()

    def _disconnected(self) -> None:
        cut = self._buf.rfind(b"\n") + 1
        tail = bytes(self._buf[cut:])
        if tail.strip():  # a line cut by the drop: quarantine it, start the next clean
            self._pending_rejects.append(Reject(self._next_line + self._lines, tail[:200].decode("ascii", "replace"),
                                                "line cut by a dropped connection"))
            self._lines += 1
            self._buf[cut:] = b"\n"  # counted as its line, parsed as an empty one
        log.warning("AIS feed %s closed; reconnecting", self.source)

    # -- batching ----------------------------------------------------------------------------
    def _take(self, data: bytes) -> None:
        self._buf += data
        self._lines += data.count(b"\n")
        if len(self._buf) > self.max_line_bytes and b"\n" not in self._buf[-self.max_line_bytes:]:
            cut = self._buf.rfind(b"\n") + 1
            if len(self._buf) - cut > self.max_line_bytes:  # a runaway line: keep nothing of it
                junk = bytes(self._buf[cut:cut + 200])
                self._pending_rejects.append(Reject(self._next_line + self._lines, junk.decode("ascii", "replace"),
                                                    f"line longer than {self.max_line_bytes} bytes"))
                del self._buf[cut:]

    def _pending(self) -> int:
        return self._lines

    def _messages(self) -> int:
        return int(self.stats.messages)

    def _batches(self, final: bool) -> list[Batch]:
        cut = self._buf.rfind(b"\n") + 1
        if final and cut < len(self._buf) and bytes(self._buf[cut:]).strip():
            self._buf += b"\n"
            cut = len(self._buf)
        data = bytes(self._buf[:cut])
        del self._buf[:cut]
        n_lines = data.count(b"\n")
        self._lines = max(0, self._lines - n_lines)
        if not data and not self._pending_rejects and not final:
            return []
        r = self.parser.feed(data, self._next_line, recv_t=time.time())
        self._next_line += n_lines
        rejects = self._pending_rejects + r.rejects + (self.parser.flush() if final else [])
        self._pending_rejects = []
        s = self.stats
        s.lines += n_lines
        s.messages += r.counters.get("messages", 0)
        for k, v in r.counters.items():
            s.counters[k] = s.counters.get(k, 0) + int(v)
        return [Batch("positions", r.positions), Batch("vessel_reports", r.reports),
                Batch("positions", r.positions.slice(0, 0) if r.positions.num_rows else pa.table({}),
                      rejects, dict(r.counters))]

    def _committed(self, written: Written, batches: list[Batch], final: bool) -> None:
        self.stats.positions += written.by_table.get("positions", 0)
        self.stats.reports += written.by_table.get("vessel_reports", 0)
        if final or time.monotonic() - self._t_refresh >= self.refresh_s:
            from sitewatch.vessels import refresh

            refresh(self.store, self.watch)
            self._t_refresh = time.monotonic()
