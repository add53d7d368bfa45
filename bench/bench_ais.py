"""AIS decoding throughput: sitewatch's NMEA reader + columnar decoder against pyais, same input, same run.

Input: every file of ``../shared/data/ais/pyais-samples/`` (real AIVDM/AIVDO from the
pyais test data: class A/B positions, static reports, multi-sentence messages, tag blocks,
``$PGHP`` wrappers, comments and ~13 % malformed lines), concatenated and repeated until
it holds at least ``SITEWATCH_BENCH_AIS_SENTENCES`` sentences (default 1,000,000).

Two comparisons, both printed with CPU time (``time.process_time``: the fair clock on a
shared machine) and wall time:

1. **end to end**, raw text lines → decoded messages.
   sitewatch: :class:`~sitewatch.sources.ais.nmea.NmeaParser` over 8 MiB chunks — envelopes
   and times, vectorised checksums, multi-sentence joining, NumPy decoding of types 1–5,
   11, 18, 19, 24, 27, quarantine records, and the Arrow ``positions`` and
   ``vessel_reports`` tables. pyais 3.3.1: ``pyais.stream.IterMessages`` over the same lines
   (its own joining, tag blocks, ``$PGHP``) and ``.decode()`` of each message.
2. **decoder only**, the same complete messages: sitewatch's
   :func:`~sitewatch.aisdec.decode_buffer` on the payload column (de-armouring included)
   against pyais's ``.decode()`` on already parsed sentences (whose bit vectors pyais built
   while parsing, so its de-armouring is *not* counted: conservative for us).

Message counts differ a little by policy: pyais decodes every type (we count the types we
leave to others) and pyais maps a few malformed payloads to message classes we reject.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.samples import shared_path

_DECODE_REJECTS = frozenset({"empty payload", "payload too short to hold an MMSI (under 38 bits)",
                             "fill bits not 0-5", "character outside the AIS payload alphabet",
                             "unknown message type", "type 24 with part number 2 or 3"})


def corpus(min_sentences: int) -> tuple[bytes, int]:
    folder = shared_path("data/ais/pyais-samples")
    if folder is None:
        raise SystemExit("bench_ais: ../shared/data/ais/pyais-samples not found (set SITEWATCH_SHARED)")
    one = b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in sorted(Path(folder).iterdir())
                   if p.name != "LICENSE")
    per_copy = sum(1 for ln in one.split(b"\n") if b"!" in ln and b"VD" in ln)
    copies = -(-min_sentences // per_copy)
    return one * copies, per_copy * copies


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def run_ours(data: bytes) -> tuple[int, int]:
    from sitewatch.sources.ais.nmea import CHUNK_BYTES, NmeaParser

    parser = NmeaParser(start_s=datetime(2024, 12, 8, tzinfo=UTC).timestamp())
    decoded = positions = 0
    first, pos = 1, 0
    while pos < len(data):
        cut = data.rfind(b"\n", pos, pos + CHUNK_BYTES) + 1 or len(data)
        chunk = data[pos:cut]
        r = parser.feed(chunk, first)
        decoded += r.counters["messages"] - sum(1 for x in r.rejects if x.reason in _DECODE_REJECTS)
        positions += r.positions.num_rows
        first += chunk.count(b"\n")
        pos = cut
    parser.flush()
    return decoded, positions


def run_pyais(messages: list[Any]) -> int:
    n = 0
    for msg in messages:
        try:
            msg.decode()
        except Exception:  # pyais raises for empty payloads, unknown types …
            continue
        n += 1
    return n


def _line(who: str, n: int, cpu: float, wall: float) -> str:
    return f"  {who:<12} {n:>10,} messages  cpu {cpu:6.2f} s = {n / cpu:>10,.0f}/s   wall {wall:6.2f} s = {n / wall:>10,.0f}/s"


def compare(label: str, ours: Callable[[], int], theirs: Callable[[], int], rounds: int) -> None:
    """Both sides, alternating, ``rounds`` times (a shared machine drifts: the median of each
    side and of the per-round ratios are reported, with every round's ratio)."""
    o_cpu, o_wall, p_cpu, p_wall, ratios = [], [], [], [], []
    n_o = n_p = 0
    for _ in range(rounds):
        c, w, n_o = timed(ours)
        o_cpu.append(c)
        o_wall.append(w)
        c, w, n_p = timed(theirs)
        p_cpu.append(c)
        p_wall.append(w)
        ratios.append((n_o / o_cpu[-1]) / (n_p / p_cpu[-1]))
    med = statistics.median
    print(label)
    print(_line("sitewatch", n_o, med(o_cpu), med(o_wall)))
    print(_line("pyais 3.3.1", n_p, med(p_cpu), med(p_wall)))
    print(f"  ratio sitewatch/pyais: {(n_o / med(o_cpu)) / (n_p / med(p_cpu)):.1f}x (cpu, medians)  "
          f"{(n_o / med(o_wall)) / (n_p / med(p_wall)):.1f}x (wall, medians)  per round (cpu): "
          + " ".join(f"{r:.1f}x" for r in ratios))


def main() -> None:
    want = int(os.environ.get("SITEWATCH_BENCH_AIS_SENTENCES", "1000000"))
    rounds = int(os.environ.get("SITEWATCH_BENCH_AIS_ROUNDS", "3"))
    data, n_sent = corpus(want)
    print(f"input: {n_sent:,} NMEA sentences ({len(data) / 1e6:.1f} MB), the pyais sample files repeated; "
          f"{rounds} rounds, each side in turn; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    try:
        from pyais.stream import IterMessages
    except ImportError:
        IterMessages = None  # type: ignore[assignment,misc]
    from sitewatch.aisdec import decode_buffer
    from sitewatch.sources.ais.nmea import NmeaParser

    NmeaParser().feed(data[:100_000], 1)  # warm-up: imports and first calls
    positions: list[int] = []

    def ours_e2e() -> int:
        n, n_pos = run_ours(data)
        positions.append(n_pos)
        return n

    if IterMessages is None:
        print("pyais not installed (pip install pyais==3.3.1): sitewatch only")
        cpu_o, wall_o, n_o = timed(ours_e2e)
        print(_line("sitewatch", n_o, cpu_o, wall_o) + f"  ({positions[-1]:,} positions)")
        return
    lines = data.split(b"\n")
    run_pyais(list(IterMessages(lines[:2000])))  # warm-up

    def pyais_e2e() -> int:
        return run_pyais(list(IterMessages(lines)))

    compare("1. end to end (text lines -> decoded messages)", ours_e2e, pyais_e2e, rounds)
    print(f"  (sitewatch also built the Arrow tables: {positions[-1]:,} position rows)")

    msgs = [m for m in IterMessages(lines) if m.payload]
    lens = np.fromiter((len(m.payload) for m in msgs), dtype=np.int64, count=len(msgs))
    buf = np.frombuffer(b"".join(m.payload for m in msgs), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    fills = np.fromiter((m.fill_bits for m in msgs), dtype=np.int64, count=len(msgs))
    compare("2. decoder only (the same complete messages)",
            lambda: int(decode_buffer(buf, starts, lens, fills).ok.sum()), lambda: run_pyais(msgs), rounds)


if __name__ == "__main__":
    main()
