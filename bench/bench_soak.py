"""Soak: 1 000 000 SBS messages through the live ``stream adsb`` path on 127.0.0.1, each checked.

Our rate: a scripted feed server sends N valid SBS position lines (unique aircraft/time) in
10 000-line bursts to :class:`~sitewatch.live.adsb.AdsbStream` running in its own process;
the stream stops by itself after N frames; then the store must hold every message exactly
once (count, distinct (id, time), first/last time and the sum of times all match). Prints
messages/s end to end (socket → parse → DuckDB commit) and the stream process' peak RSS.

Peer: the same bytes written to a file and read by the file ``sbs`` reader into a list of
Arrow batches (no socket, no store) — the parse-only ceiling, measured in the same run.

Usage: ``python -m bench.bench_soak [N]`` (default 1 000 000).
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def main(n: int = 1_000_000) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.test_trust_streams import _child_adsb, _exactly_once, run_stream, sbs_block

    from sitewatch.sources.adsb.sbs import new_fill, read_sbs
    from sitewatch.sources.base import InputFile

    with tempfile.TemporaryDirectory() as d:
        blocks = [sbs_block(j, min(10_000, n - j)) for j in range(0, n, 10_000)]
        t = time.monotonic()
        stats = run_stream(_child_adsb, Path(d) / "soak", [("send", b) for b in blocks], stop_after=n,
                           timeout_s=1800)
        ours_s = time.monotonic() - t
        _exactly_once(Path(d) / "soak", n)
        data = b"".join(blocks)
        t = time.monotonic()
        rows = sum(b.rows.num_rows for b in read_sbs(InputFile("soak.sbs", lambda: io.BytesIO(data)), new_fill()))
        peer_s = time.monotonic() - t
        assert rows == n
    out = {"messages": n, "stream_s": round(ours_s, 1), "stream_msgs_per_s": round(n / ours_s),
           "parse_only_s": round(peer_s, 1), "parse_only_msgs_per_s": round(n / peer_s),
           "ratio_stream_to_parse": round((n / ours_s) / (n / peer_s), 3),
           "rss_start_mb": round(stats["rss0_mb"]), "rss_peak_mb": round(stats["rss_peak_mb"]),
           "exactly_once": True}
    print(f"soak: {n} messages through stream adsb (sbs) in {ours_s:.1f} s = {n / ours_s:.0f} msg/s, "
          f"each stored exactly once; peer (file parse only, no socket/store) {n / peer_s:.0f} msg/s; "
          f"ratio {out['ratio_stream_to_parse']}; stream RSS {out['rss_start_mb']} → {out['rss_peak_mb']} MB")
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
