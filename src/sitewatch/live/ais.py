"""Live AIS: NMEA lines from a TCP feed (client) or UDP datagrams (listener) into the store.

Contract: :class:`AisStream` reads lines, and every ``batch_s`` seconds (or ``batch_lines``
lines) parses them with :class:`~sitewatch.sources.ais.nmea.NmeaParser` and commits the
batch — positions, static reports, quarantined lines and counters — in **one transaction**;
a crash loses at most the uncommitted batch. A sentence without a time of its own gets the
reception time of its batch (flagged explicit: it is a measured time, late by at most the
batch interval). The vessels table is refreshed every ``refresh_s`` and at the end.

Bounded memory: at most ``batch_lines`` lines wait for a commit; a "line" longer than
``max_line_bytes`` without a newline is quarantined and dropped from the buffer; the
multi-sentence assembler keys on (sequence id, channel), so its state is bounded too.

TCP: on a refused connection, a reset or an end of stream, it reconnects after a backoff
that doubles from ``backoff_s`` up to ``backoff_max_s`` (reset once data flows again).
UDP: each datagram holds one or more lines. Stops on :meth:`stop`, ``max_s`` or
``max_messages``, or Ctrl-C in the CLI.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sitewatch.sources.ais.nmea import NmeaParser
from sitewatch.sources.base import Reject
from sitewatch.store.ais_queries import close_stream_log, open_stream_log, write_stream_batch
from sitewatch.store.db import Store

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


@dataclass
class AisStream:
    store: Store
    tcp: tuple[str, int] | None = None
    udp_port: int | None = None
    udp_host: str = "0.0.0.0"
    batch_s: float = 1.0
    batch_lines: int = 50_000
    max_line_bytes: int = 4096
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    refresh_s: float = 60.0
    max_s: float | None = None
    max_messages: int | None = None
    watch: list[str] = field(default_factory=list)
    on_batch: Callable[[StreamStats], None] | None = None
    stats: StreamStats = field(default_factory=StreamStats)
    bound_port: int | None = None  # the UDP port actually bound (useful with port 0)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if (self.tcp is None) == (self.udp_port is None):
            raise ValueError("give exactly one of tcp=(host, port) or udp_port")
        self.parser = NmeaParser(fmt="nmea-stream")
        self._buf = bytearray()
        self._lines = 0
        self._next_line = 1
        self._t_batch = time.monotonic()
        self._t_refresh = time.monotonic()
        self._pending_rejects: list[Reject] = []

    # -- control -----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Block until connected (TCP) or bound (UDP)."""
        return self._ready.wait(timeout)

    @property
    def source(self) -> str:
        return f"tcp://{self.tcp[0]}:{self.tcp[1]}" if self.tcp else f"udp://{self.udp_host}:{self.udp_port}"

    def run(self) -> StreamStats:
        """Read until stopped; returns the statistics (also kept in :attr:`stats`)."""
        self._t0 = time.monotonic()
        self.file_id = open_stream_log(self.store, self.source)
        try:
            if self.tcp:
                self._run_tcp()
            else:
                self._run_udp()
        finally:
            self._flush(final=True)
            close_stream_log(self.store, self.file_id, self.stats.positions + self.stats.reports,
                             self.stats.rejected)
        return self.stats

    def _done(self) -> bool:
        if self._stop.is_set():
            return True
        if self.max_s is not None and time.monotonic() - self._t0 >= self.max_s:
            return True
        return self.max_messages is not None and self.stats.messages >= self.max_messages

    # -- transports --------------------------------------------------------------------
    def _run_tcp(self) -> None:
        assert self.tcp is not None
        delay = self.backoff_s
        while not self._done():
            try:
                sock = socket.create_connection(self.tcp, timeout=5.0)
            except OSError as exc:
                log.warning("AIS feed %s: %s; retrying in %.1f s", self.source, exc, delay)
                self._sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)
                continue
            self.stats.connects += 1
            self._ready.set()
            sock.settimeout(0.2)
            try:
                while not self._done():
                    try:
                        data = sock.recv(1 << 16)
                    except TimeoutError:
                        self._maybe_flush()
                        continue
                    except OSError as exc:
                        log.warning("AIS feed %s: %s", self.source, exc)
                        break
                    if not data:
                        break
                    delay = self.backoff_s
                    self._feed(data)
            finally:
                sock.close()
            if not self._done():
                self.stats.disconnects += 1
                self._flush()
                if bytes(self._buf).strip():  # a line cut by the drop: quarantine it, start the next clean
                    self._pending_rejects.append(Reject(self._next_line, bytes(self._buf[:200]).decode(
                        "ascii", "replace"), "line cut by a dropped connection"))
                    self._next_line += 1
                del self._buf[:]
                log.warning("AIS feed %s closed; reconnecting in %.1f s", self.source, delay)
                self._sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)

    def _run_udp(self) -> None:
        assert self.udp_port is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.udp_host, self.udp_port))
        self.bound_port = sock.getsockname()[1]
        sock.settimeout(0.2)
        self._ready.set()
        try:
            while not self._done():
                try:
                    data = sock.recv(1 << 16)
                except TimeoutError:
                    self._maybe_flush()
                    continue
                self._feed(data if data.endswith(b"\n") else data + b"\n")
        finally:
            sock.close()

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    # -- batching ----------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        self.stats.bytes += len(data)
        self._buf += data
        self._lines += data.count(b"\n")
        if len(self._buf) > self.max_line_bytes and b"\n" not in self._buf[-self.max_line_bytes:]:
            cut = self._buf.rfind(b"\n") + 1
            if len(self._buf) - cut > self.max_line_bytes:  # a runaway line: keep nothing of it
                junk = bytes(self._buf[cut:cut + 200])
                self._pending_rejects.append(Reject(self._next_line + self._lines, junk.decode("ascii", "replace"),
                                                    f"line longer than {self.max_line_bytes} bytes"))
                del self._buf[cut:]
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        due = time.monotonic() - self._t_batch >= self.batch_s
        if self._lines >= self.batch_lines or (due and (self._lines or self._pending_rejects)):
            self._flush()

    def _flush(self, final: bool = False) -> None:
        self._t_batch = time.monotonic()
        cut = self._buf.rfind(b"\n") + 1
        if final and cut < len(self._buf) and bytes(self._buf[cut:]).strip():
            self._buf += b"\n"
            cut = len(self._buf)
        data = bytes(self._buf[:cut])
        del self._buf[:cut]
        n_lines = data.count(b"\n")
        self._lines = max(0, self._lines - n_lines)
        if not data and not self._pending_rejects and not final:
            return
        r = self.parser.feed(data, self._next_line, recv_t=time.time())
        self._next_line += n_lines
        rejects = self._pending_rejects + r.rejects + (self.parser.flush() if final else [])
        self._pending_rejects = []
        write_stream_batch(self.store, self.file_id, self.source, r.positions, r.reports, rejects, r.counters)
        s = self.stats
        s.lines += n_lines
        s.messages += r.counters.get("messages", 0)
        s.positions += r.positions.num_rows
        s.reports += r.reports.num_rows
        s.rejected += len(rejects)
        s.batches += 1
        for k, v in r.counters.items():
            s.counters[k] = s.counters.get(k, 0) + int(v)
        if final or time.monotonic() - self._t_refresh >= self.refresh_s:
            from sitewatch.vessels import refresh

            refresh(self.store, self.watch)
            self._t_refresh = time.monotonic()
        if self.on_batch:
            self.on_batch(s)
