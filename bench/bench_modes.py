"""Mode S decoding throughput: sitewatch's columnar decoder vs pyModeS ``PipeDecoder``.

Input: the 57,793 real frames of one A321 flight (traffic's ``rs1090/full_flight_short.jsonl``)
repeated until there are at least 1,000,000, each copy given its own aircraft address
(CRC and address/parity recomputed, so every copy is a valid, distinct aircraft) and the
whole stream ordered by time. Both decoders get the same hex strings and times and must
pair CPR frames into positions. Printed: frames/s for each, their ratio, positions found,
and the end-to-end rate of ``ingest adsb`` of the same frames as a hex CSV into a store.

``SITEWATCH_BENCH_PEER_FRAMES=N`` times pyModeS on the first N frames only (it needs
minutes for a million); the line then says so.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from sitewatch.modes import ModeSDecoder, from_hex
from sitewatch.modes.crc import syndromes
from sitewatch.samples import traffic_sample

TARGET_FRAMES = 1_000_000
CHUNK = 200_000


def build_frames(target: int = TARGET_FRAMES) -> tuple[list[str], np.ndarray]:
    path = traffic_sample("rs1090/full_flight_short.jsonl", download=True)
    if path is None:
        raise SystemExit("traffic==2.13 sample not available")
    recs = [json.loads(line) for line in open(path)]
    frames = [r["frame"] for r in recs]
    ts = np.array([r["timestamp"] for r in recs])
    msg, nb, _ = from_hex(frames)
    df = msg[:, 0] >> 3
    short = np.isin(df, [0, 4, 5, 11])
    nb = np.where(short, 7, nb)
    copies = -(-target // len(frames))
    rng = np.random.default_rng(42)
    addrs = rng.choice(np.arange(0x100000, 0xEFFFFF), size=copies, replace=False)
    out_hex: list[str] = []
    out_t: list[np.ndarray] = []
    es = np.isin(df, [17, 18])
    overlay = np.isin(df, [0, 4, 5, 16, 20, 21])
    for a in addrs:
        m = msg.copy()
        a = int(a)
        m[es, 1], m[es, 2], m[es, 3] = (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF
        long_rows = np.flatnonzero(nb == 14)
        short_rows = np.flatnonzero(nb == 7)
        for rows, n in ((long_rows, 14), (short_rows, 7)):
            sub = m[rows, :n].copy()
            sub[:, n - 3:] = 0
            crc = syndromes(sub)  # CRC of the data with zero parity
            want = np.where(overlay[rows], crc ^ a, crc).astype(np.uint32)
            sub[:, n - 3], sub[:, n - 2], sub[:, n - 1] = want >> 16, (want >> 8) & 0xFF, want & 0xFF
            m[rows, :n] = sub
        out_hex.extend(bytes(m[i, : nb[i]]).hex() for i in range(m.shape[0]))
        out_t.append(ts)
    t_all = np.concatenate(out_t)
    order = np.argsort(t_all, kind="stable")
    return [out_hex[i] for i in order], t_all[order]


def ours(frames: list[str], ts: np.ndarray) -> tuple[float, int]:
    dec = ModeSDecoder()
    positions = 0
    t0 = time.perf_counter()
    for a in range(0, len(frames), CHUNK):
        msg, nb, _ = from_hex(frames[a:a + CHUNK])
        d = dec.decode(msg, nb, ts[a:a + CHUNK])
        positions += int((d.pos_kind > 0).sum())
    return time.perf_counter() - t0, positions


def pymodes(frames: list[str], ts: np.ndarray) -> tuple[float, int]:
    import pyModeS

    pipe = pyModeS.PipeDecoder(surface_ref="LFPG")  # as ours resolves surface frames, so can it
    t0 = time.perf_counter()
    out = [pipe.decode(f, timestamp=float(t)) for f, t in zip(frames, ts, strict=True)]
    pipe.flush()
    dt = time.perf_counter() - t0
    return dt, sum(1 for o in out if o.get("latitude") is not None)


def ingest_rate(frames: list[str], ts: np.ndarray) -> tuple[float, int]:
    from sitewatch.store.db import Store
    from sitewatch.store.ingest import ingest_paths

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "frames.csv"
        with open(csv_path, "w") as f:
            f.write("ts,hex\n")
            f.writelines(f"{t:.6f},{h}\n" for t, h in zip(ts.tolist(), frames, strict=True))
        store = Store(Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        s = ingest_paths(store, "adsb", [csv_path])
        dt = time.perf_counter() - t0
        store.close()
    return dt, s.accepted


def main() -> None:
    t0 = time.perf_counter()
    frames, ts = build_frames()
    n = len(frames)
    print(f"input: {n:,} real frames ({n // 57793} address-shuffled copies of the A321 flight), "
          f"built in {time.perf_counter() - t0:.1f} s")
    dt_ours, pos_ours = ours(frames, ts)
    print(f"sitewatch.modes : {n / dt_ours:>12,.0f} frames/s  ({dt_ours:.2f} s, {pos_ours:,} positions)")
    peer_n = int(os.environ.get("SITEWATCH_BENCH_PEER_FRAMES", n))
    dt_peer, pos_peer = pymodes(frames[:peer_n], ts[:peer_n])
    note = "" if peer_n >= n else f" on the first {peer_n:,} frames only"
    print(f"pyModeS PipeDecoder: {peer_n / dt_peer:>9,.0f} frames/s  ({dt_peer:.2f} s, {pos_peer:,} positions{note})")
    print(f"ratio: {(n / dt_ours) / (peer_n / dt_peer):.1f}x pyModeS (target >= 20x)")
    dt_ing, acc = ingest_rate(frames, ts)
    print(f"end-to-end ingest adsb (hex CSV -> store): {n / dt_ing:,.0f} frames/s ({dt_ing:.2f} s, "
          f"{acc:,} rows stored); {dt_ing / dt_ours:.1f}x the bare decode time (target <= 3x)")


if __name__ == "__main__":
    main()
