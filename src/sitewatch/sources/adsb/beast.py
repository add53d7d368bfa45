"""``beast`` format: the Beast binary stream of dump1090/readsb (port 30005), as a file.

Each message is ``0x1a``, a type byte, a 6-byte 12 MHz MLAT counter, a 1-byte signal
level and the payload; a ``0x1a`` inside those bytes is doubled (escaped). Types:
``'1'`` Mode A/C (2 bytes, counted, not decoded), ``'2'`` Mode S short (7 bytes), ``'3'``
Mode S long (14 bytes), ``'4'`` receiver status (14 bytes, skipped).

The MLAT counter is receiver uptime, not a date: times are ``--start`` plus the counter's
elapsed ticks (``time_inferred`` is set). Without ``--start`` the file cannot be placed
in time and is refused with a message saying so. A counter that goes backwards
(receiver restart) continues from the last time (``beast_clock_reset``).

Bad input: bytes between messages that are not a ``0x1a`` marker are skipped and their
first byte offset quarantined (``garbage``); a message cut short by the next marker or
the end of the file is quarantined as a truncated frame. Offsets are byte offsets.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from sitewatch.errors import InputError
from sitewatch.sources.adsb._common import watch_filtered
from sitewatch.sources.adsb._frames import CHUNK_FRAMES, FrameSink
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register

FORMAT = "beast"
ESC = 0x1A
PAYLOAD = {0x31: 2, 0x32: 7, 0x33: 14, 0x34: 14}
TICKS_PER_S = 12e6
READ_BYTES = 4 << 20


@register
class BeastReader:
    kind = "adsb"
    name = FORMAT

    def sniff(self, head: bytes, name: str) -> float:
        if len(head) < 2 or head[0] != ESC or head[1] not in PAYLOAD:
            return 0.0
        return 0.95 if head.count(b"\x1a2") + head.count(b"\x1a3") >= 2 or len(head) < 40 else 0.5

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        if opts.start is None:
            raise InputError("a Beast file carries receiver clock ticks, not dates: pass --start "
                             "with the time of its first message (e.g. --start 2024-12-13T06:00Z)",
                             path=src.name)
        start_s = opts.start.timestamp()
        sink = FrameSink(FORMAT, opts, time_inferred=True)
        clock = _Clock(start_s)
        frames: list[bytes] = []
        ticks: list[int] = []
        offs: list[int] = []
        rejects: list[Reject] = []
        for kind, off, payload, tick in _messages(src):
            if kind == "frame":
                if len(payload) == 2:
                    sink.decoder.counters["mode_ac"] += 1
                    continue
                frames.append(payload)
                ticks.append(tick)
                offs.append(off)
            elif kind == "status":
                sink.decoder.counters["beast_status"] += 1
            else:
                rejects.append(Reject(off, payload.hex(), kind, "byte"))
            if len(frames) >= CHUNK_FRAMES:
                yield from self._flush(sink, clock, frames, ticks, offs, rejects)
                frames, ticks, offs, rejects = [], [], [], []
        if frames or rejects:
            yield from self._flush(sink, clock, frames, ticks, offs, rejects)
        sink.decoder.counters["beast_clock_reset"] += clock.resets
        left = sink._delta()  # counts after the last chunk (clock resets, a file of Mode A/C only)
        if left:
            yield Batch("positions", pa.table({}), [], left)
        yield from sink.finish()

    @staticmethod
    def _flush(sink: FrameSink, clock: _Clock, frames: list[bytes], ticks: list[int], offs: list[int],
               rejects: list[Reject]) -> list[Batch]:
        n = len(frames)
        msg = np.zeros((n, 14), np.uint8)
        nb = np.zeros(n, np.int8)
        for i, fr in enumerate(frames):
            msg[i, : len(fr)] = np.frombuffer(fr, np.uint8)
            nb[i] = len(fr)
        t = clock.times(np.array(ticks, dtype=np.int64))
        return sink.batches(msg, nb, t, np.array(offs, np.int64), rejects)


class _Clock:
    """12 MHz ticks → seconds after ``start``, monotonic across counter resets."""

    def __init__(self, start_s: float) -> None:
        self.start_s = start_s
        self.first: int | None = None
        self.offset_s = 0.0
        self.last_tick = 0
        self.last_s = start_s
        self.resets = 0

    def times(self, ticks: np.ndarray) -> np.ndarray:
        out = np.empty(ticks.size)
        for i, tk in enumerate(ticks.tolist()):
            if self.first is None:
                self.first = tk
            if tk < self.last_tick:  # the receiver restarted its counter
                self.resets += 1
                self.offset_s = self.last_s - self.start_s
                self.first = tk
            self.last_tick = tk
            self.last_s = self.start_s + self.offset_s + (tk - self.first) / TICKS_PER_S
            out[i] = self.last_s
        return out


def _messages(src: InputFile) -> Iterator[tuple[str, int, bytes, int]]:
    """(kind, byte offset, payload or raw bytes, tick) for every message in the file."""
    parser = BeastParser()
    with src.open() as f:
        while True:
            more = f.read(READ_BYTES)
            yield from parser.feed(more, eof=not more)
            if not more:
                return


class BeastParser:
    """Incremental Beast parser: feed bytes as they arrive, get whole messages back.

    Each message is ``(kind, offset, bytes, tick)``: kind ``"frame"`` (payload of 2, 7 or
    14 bytes), ``"status"``, or a reject reason (with the raw bytes); offsets count from
    the first byte fed. A message cut by the end of the data waits for the next feed,
    unless ``eof``.
    """

    def __init__(self) -> None:
        self.buf = b""
        self.base = 0

    def feed(self, data: bytes, eof: bool = False) -> list[tuple[str, int, bytes, int]]:
        buf = self.buf + data
        base = self.base
        out: list[tuple[str, int, bytes, int]] = []
        i, n = 0, len(buf)
        while i < n:
            if buf[i] != ESC:
                j = buf.find(b"\x1a", i)
                j = n if j < 0 else j
                out.append(("garbage: bytes outside a Beast message", base + i, buf[i:min(j, i + 64)], 0))
                i = j
                continue
            if i + 1 >= n:
                break
            typ = buf[i + 1]
            if typ not in PAYLOAD:
                reason = ("garbage: bytes outside a Beast message" if typ == ESC
                          else f"unknown Beast message type 0x{typ:02x}")
                out.append((reason, base + i, buf[i:i + 2], 0))
                i += 2
                continue
            body, end, cut = _unescape(buf, i + 2, 7 + PAYLOAD[typ])
            if cut:
                if end >= n and not eof:
                    break  # the rest of this message has not arrived yet
                out.append(("truncated Beast frame", base + i, buf[i:end], 0))
                i = end
                continue
            tick = int.from_bytes(body[:6], "big")
            out.append(("status", base + i, b"", tick) if typ == 0x34 else ("frame", base + i, body[7:], tick))
            i = end
        if eof and i < n:
            out.append(("truncated Beast frame", base + i, buf[i:i + 64], 0))
            i = n
        self.buf = buf[i:]
        self.base = base + i
        return out


def _unescape(buf: bytes, start: int, need: int) -> tuple[bytes, int, bool]:
    """``need`` unescaped bytes from ``start``: (bytes, end index, cut short?)."""
    chunk = buf[start:start + need]
    if len(chunk) == need and ESC not in chunk:
        return chunk, start + need, False
    out = bytearray()
    j = start
    n = len(buf)
    while len(out) < need:
        if j >= n:
            return bytes(out), j, True
        b = buf[j]
        if b == ESC:
            if j + 1 < n and buf[j + 1] == ESC:
                out.append(ESC)
                j += 2
                continue
            return bytes(out), j, True  # an unescaped marker: the next message started early
        out.append(b)
        j += 1
    return bytes(out), j, False
