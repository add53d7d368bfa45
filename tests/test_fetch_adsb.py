"""``sitewatch fetch adsb`` offline: a stand-in adsb.lol mirror on 127.0.0.1 with faults.

The mirror serves a small globe_history day tar — the real recorded trace (../shared) plus
SIMULATED traces in readsb's layout, a broken member, README and heatmap files — split in
``.tar.aa``/``.tar.ab`` like adsb.lol's releases, with its listing and SHA256SUMS. Faults:
429 with Retry-After, 5xx then success, a body cut short then resumed with Range, a server
ignoring Range, a wrong checksum, a wrong size, a missing day. Nothing reaches the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import shared

from sitewatch.acquire.adsblol import (
    AdsbLol,
    day_of_tag,
    parse_listing,
    parse_release_json,
    parse_sha256sums,
    tag_for,
)
from sitewatch.acquire.http import FetchError, HttpOptions, download, retry_after_s
from sitewatch.cli import main
from sitewatch.simulate.readsb_trace import HMEIMIM, TraceSpec, compress, trace_bytes
from sitewatch.sources.adsb.globe import ConcatReader, KeepRule, WatchedArea, read_archive
from sitewatch.store.ingest_log import fetched, sources
from sitewatch.workspace import Workspace

DAY = date(2024, 12, 6)
TAG = tag_for(DAY)
T0 = 1733443200.0  # 2024-12-06T00:00Z
REAL = "adsb-readsb/trace_full_ac671b.json"
NEAR = [TraceSpec(f"15{k:04x}", T0 + 600 * k, HMEIMIM[0] + 0.3 * k, HMEIMIM[1] - 0.2 * k, 90.0 * k, 120, 3)
        for k in range(3)]  # IL76s starting at or near Hmeimim (SIMULATED)
FAR = [TraceSpec("a1b2c3", T0, 51.47, -0.45, 270.0, 150, 0), TraceSpec("c0ffee", T0, -33.9, 151.2, 10.0, 90, 1)]
BROKEN = "traces/dd/trace_full_dddddd.json"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def day_tar(real: bytes | None, codec: str = "gzip") -> bytes:
    """A globe_history-style day: real + SIMULATED traces, a broken member, non-trace members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, "README.txt", b"This is a database for the day ... (SIMULATED test archive)\n")
        if real is not None:
            _add(tar, "traces/1b/trace_full_ac671b.json", compress(real, codec))
        for s in NEAR + FAR:
            _add(tar, f"traces/{int(s.icao, 16) % 256:02x}/trace_full_{s.icao}.json", compress(trace_bytes(s), codec))
        _add(tar, BROKEN, compress(b'{"icao":"dddddd","timestamp":1733443200,"trace":[[0,35.4,35.9,', codec))
        _add(tar, "heatmap/00.bin.ttf", gzip.compress(bytes(64)))
        _add(tar, "LICENSE-ODbL.txt", b"ODbL 1.0\n")
    return buf.getvalue()


def split(data: bytes, parts: int = 2) -> list[bytes]:
    size = -(-len(data) // parts)
    return [data[i:i + size] for i in range(0, len(data), size)]


@dataclass
class Mirror:
    """A stand-in for github.com/adsblol on 127.0.0.1: files by path, faults by path (consumed in order)."""

    files: dict[str, bytes]
    faults: dict[str, list[str]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    url: str = ""

    def serve(self) -> Iterator[Mirror]:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(head=True)

            def do_GET(self) -> None:
                self._answer(head=False)

            def _answer(self, head: bool) -> None:
                rng = self.headers.get("Range")
                mirror.requests.append((self.command, self.path, rng))
                data = mirror.files.get(self.path)
                fault = (mirror.faults.get(self.path) or [None]).pop(0) if not head else None
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "429":
                    self.send_response(429)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "503":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                if rng and fault != "ignore-range":
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if head:
                    return
                if fault and fault.startswith("cut:"):  # announce everything, send part, hang up
                    self.wfile.write(body[: int(fault[4:])])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{srv.server_address[1]}"
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            yield self
        finally:
            srv.shutdown()
            srv.server_close()


def publish(parts: list[bytes], sums: dict[str, str] | None = None, listing: bool = True,
            year: int = 2024) -> dict[str, bytes]:
    """The mirror's files for ``DAY``: parts, SHA256SUMS, and the listing line (with github.com URLs)."""
    base = f"/globe_history_{year}/releases/download/{TAG}"
    names = [f"{TAG}.tar.{a}" for a in ("aa", "ab", "ac")[: len(parts)]] if len(parts) > 1 else [f"{TAG}.tar"]
    files = {f"{base}/{n}": p for n, p in zip(names, parts, strict=True)}
    digests = sums or {n: hashlib.sha256(p).hexdigest() for n, p in zip(names, parts, strict=True)}
    files[f"{base}/SHA256SUMS"] = "".join(f"{h}  {n}\n" for n, h in digests.items()).encode()
    if listing:
        line = ",".join(f"https://github.com/adsblol/globe_history_{year}/releases/download/{TAG}/{n}" for n in names)
        other = f"https://github.com/adsblol/globe_history_{year}/releases/download/{tag_for(date(2024, 12, 5))}/x.tar"
        files[f"/globe_history_{year}/PREFERRED_RELEASES.txt"] = f"{other}\n{line}\n".encode()
    return files


@pytest.fixture
def real_trace() -> bytes:
    return shared(f"data/api-samples/{REAL}").read_bytes()


@pytest.fixture
def hmeimim_ws(tmp_path: Path) -> Iterator[Workspace]:
    assert main(["init", str(tmp_path / "ws")]) == 0
    assert main(["-w", str(tmp_path / "ws"), "site", "add", "hmeimim", "--airport", "OSLK", "--radius-km", "6"]) == 0
    w = Workspace.open(tmp_path / "ws")
    yield w
    w.close()


class Waits:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, s: float) -> None:
        self.waits.append(s)


# -- the recorded listings (../shared): where a day is ------------------------------------------

def test_recorded_listings_give_each_day_its_parts() -> None:
    text = shared("data/api-samples/adsblol-globe-history/globe_history_2024_PREFERRED_RELEASES.txt").read_text()
    listing = parse_listing(text)
    urls = listing[DAY]
    assert [u.rsplit("/", 1)[-1] for u in urls] == [f"{TAG}.tar.aa", f"{TAG}.tar.ab"]
    assert all(u.startswith("https://github.com/adsblol/globe_history_2024/releases/download/") for u in urls)
    assert date(2023, 12, 30) in listing  # a late-December day sits in the next year's repository
    assert len(listing[date(2024, 12, 29)]) == 1  # a small day is one plain .tar
    rel_md = shared("data/api-samples/adsblol-globe-history/globe_history_2024_RELEASES.md").read_text()
    line = next(ln for ln in rel_md.splitlines() if ln.startswith("- 2024-12-06"))
    assert "planes-readsb-prod-0 (2237 MiB)" in line  # > 2,000,000,000 bytes: hence two parts
    assert day_of_tag("v2024.12.06-planes-readsb-staging-0") == DAY


def test_release_json_and_checksum_files() -> None:
    doc = {"tag_name": TAG, "assets": [
        {"name": f"{TAG}.tar.aa", "size": 2_000_000_000, "digest": "sha256:" + "ab" * 32},
        {"name": f"{TAG}.tar.ab", "size": 345_678_901, "digest": None}]}
    got = parse_release_json(json.dumps(doc).encode())
    assert got == {f"{TAG}.tar.aa": (2_000_000_000, "ab" * 32), f"{TAG}.tar.ab": (345_678_901, None)}
    assert parse_sha256sums(f"{'CD' * 32}  a.tar.aa\n{'ef' * 32} *a.tar.ab\njunk\n") == {
        "a.tar.aa": "cd" * 32, "a.tar.ab": "ef" * 32}
    assert retry_after_s("120") == 120.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: go now
    assert retry_after_s("soon") is None


# -- downloads: faults, resume, checks ---------------------------------------------------------

def test_download_survives_429_5xx_and_a_cut_then_resumes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4000  # 1 MB
    m = Mirror({"/f.bin": data}, {"/f.bin": ["429", "503", "cut:300000", "cut:200000", "ignore-range"]})
    for srv in m.serve():
        waits = Waits()
        got = download(f"{srv.url}/f.bin", tmp_path / "f.bin", len(data), hashlib.sha256(data).hexdigest(),
                       HttpOptions(sleep=waits, backoff_s=0.5))
        assert got.size_bytes == len(data) and got.path.read_bytes() == data
        assert waits.waits[0] == 1.0  # Retry-After honoured
        assert waits.waits[1] == 1.0  # then backoff 0.5 · 2
        ranges = [r for _, p, r in srv.requests if p == "/f.bin"]
        # 429, 503, cut at 300,000 → resumed, cut at 500,000 → resumed, but the server ignores Range
        # (200, whole body): the file starts again from byte 0 and completes
        assert ranges == [None, None, None, "bytes=300000-", "bytes=500000-"]
        assert not (tmp_path / "f.bin.part").exists()


def test_a_partial_file_resumes_across_runs(tmp_path: Path) -> None:
    data = b"x" * 100_000 + b"y" * 50_000
    (tmp_path / "f.bin.part").write_bytes(data[:120_000])
    m = Mirror({"/f.bin": data})
    for srv in m.serve():
        got = download(f"{srv.url}/f.bin", tmp_path / "f.bin", expected_sha256=hashlib.sha256(data).hexdigest(),
                       opts=HttpOptions(sleep=Waits()))
        assert got.path.read_bytes() == data
        assert srv.requests == [("GET", "/f.bin", "bytes=120000-")]


def test_wrong_size_and_wrong_checksum_are_refused_naming_the_file(tmp_path: Path) -> None:
    data = b"z" * 10_000
    m = Mirror({"/g.tar.aa": data})
    for srv in m.serve():
        with pytest.raises(FetchError, match=r"g\.tar\.aa: the server announces 10,000 bytes, the release lists 9,999"):
            download(f"{srv.url}/g.tar.aa", tmp_path / "g.tar.aa", 9_999, opts=HttpOptions(sleep=Waits()))
        with pytest.raises(FetchError, match=r"g\.tar\.aa: SHA-256 .* does not match the published"):
            download(f"{srv.url}/g.tar.aa", tmp_path / "g.tar.aa", expected_sha256="0" * 64,
                     opts=HttpOptions(sleep=Waits()))
        assert not (tmp_path / "g.tar.aa").exists() and not (tmp_path / "g.tar.aa.part").exists()
        m.files.pop("/g.tar.aa")
        with pytest.raises(FetchError, match="HTTP 404"):
            download(f"{srv.url}/g.tar.aa", tmp_path / "g.tar.aa", opts=HttpOptions(sleep=Waits()))


# -- the day: release, parts, stream, filter, provenance ---------------------------------------

def test_fetch_day_through_faults_keeps_near_aircraft_and_quarantines_bad_members(
        hmeimim_ws: Workspace, tmp_path: Path, real_trace: bytes) -> None:
    parts = split(day_tar(real_trace))
    files = publish(parts)
    aa = f"/globe_history_2024/releases/download/{TAG}/{TAG}.tar.aa"
    ab = f"/globe_history_2024/releases/download/{TAG}/{TAG}.tar.ab"
    m = Mirror(files, {aa: ["429", "cut:4000"], ab: ["502"]})
    for srv in m.serve():
        src = AdsbLol(srv.url, HttpOptions(sleep=Waits(), backoff_s=0.1))
        rel = src.release(DAY)
        assert rel.tag == TAG and [a.name for a in rel.assets] == [f"{TAG}.tar.aa", f"{TAG}.tar.ab"]
        assert all(a.url.startswith(srv.url) and a.sha256 for a in rel.assets)  # mirror URLs, published digests
        got = src.download(rel, tmp_path / "dl")
        assert [g.path.read_bytes() for g in got] == parts
        assert (None, aa, "bytes=4000-") in {(None, p, r) for _, p, r in srv.requests}
        site = hmeimim_ws.site("hmeimim")
        rule = KeepRule((WatchedArea("hmeimim", site.lat, site.lon, 6.0),), margin_km=300.0)
        res = src.ingest(hmeimim_ws.store, rel, got, rule, workers=0)
    st = hmeimim_ws.store
    ids = {r[0] for r in st.sql("SELECT DISTINCT id FROM positions")}
    assert ids == {s.icao for s in NEAR}  # near Hmeimim: kept; London, Sydney, the real US trace: dropped
    assert res.counters["aircraft_kept"] == 3 and res.counters["not_kept_aircraft"] == 3
    assert res.counters["members_skipped"] == 3 and res.counters["members_failed"] == 1
    q = st.rows("SELECT path, reason, offset_unit FROM quarantine")
    assert len(q) == 1 and q[0]["path"].endswith(f"!{BROKEN}") and "broken JSON" in q[0]["reason"]
    assert q[0]["offset_unit"] == "byte"
    [f] = fetched(st)
    assert f["licence"] == "ODbL-1.0" and "adsb.lol" in f["attribution"] and f["release"] == TAG
    assert [x["sha256"] for x in f["files"]] == [hashlib.sha256(p).hexdigest() for p in parts]
    assert all(x["url"].endswith(x["name"]) for x in f["files"])
    assert sources(st)[0]["rows"] == res.accepted
    # the same archive with the same filter adds nothing
    again = src.ingest(st, rel, got, rule, workers=0)
    assert again.skipped


def test_margin_filter_keeps_an_aircraft_passing_near_a_site_and_drops_a_far_one(real_trace: bytes,
                                                                                 tmp_path: Path) -> None:
    tar = tmp_path / "day.tar"
    tar.write_bytes(day_tar(real_trace))
    doc = json.loads(real_trace)
    mid = doc["trace"][1200]  # a point of the real flight (over the United States)

    def kept(rule: KeepRule) -> set[str]:
        out: set[str] = set()
        with ConcatReader([tar]) as r:
            for b in read_archive(r, "day.tar", rule):
                if b.table == "positions" and b.rows.num_rows:
                    out |= set(b.rows.column("id").to_pylist())
        return out

    near_real = WatchedArea("on-the-route", mid[1] + 0.5, mid[2] - 0.5, 2.0)  # ≈ 70 km from that point
    assert kept(KeepRule((near_real,), margin_km=100.0)) == {"ac671b"}
    assert kept(KeepRule((near_real,), margin_km=10.0)) == set()  # 10 km: too far
    hm = WatchedArea("hmeimim", *HMEIMIM, 6.0)
    assert kept(KeepRule((hm,), margin_km=300.0)) == {s.icao for s in NEAR}
    # the SIMULATED IL76s have the military bit: --military-only keeps them; near airliners would go
    assert kept(KeepRule((hm,), margin_km=300.0, military_only=True)) == {s.icao for s in NEAR}
    assert kept(KeepRule((near_real,), margin_km=100.0, military_only=True)) == set()
    # --watch-anywhere adds military / watch-type aircraft wherever they fly (none far away here)
    assert kept(KeepRule((), watch_anywhere=True, types=frozenset({"B739"}))) == {s.icao for s in NEAR} | {"ac671b"}
    assert len(kept(KeepRule(keep_all=True))) == 6


def test_zstd_members_are_read_like_gzip_ones(real_trace: bytes, tmp_path: Path) -> None:
    tar = tmp_path / "day.tar"
    tar.write_bytes(day_tar(real_trace, codec="zstd"))
    with ConcatReader([tar]) as r:
        batches = list(read_archive(r, "day.tar", KeepRule(keep_all=True)))
    ids = {i for b in batches if b.table == "positions" for i in b.rows.column("id").to_pylist()}
    assert ids == {"ac671b", *(s.icao for s in NEAR + FAR)}
    n_real = sum(b.rows.column("id").to_pylist().count("ac671b") for b in batches if b.table == "positions")
    assert n_real == 2425  # 2,500 points - 75 stale, as the single-file reader reads it


def test_not_a_globe_history_archive_is_one_error(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, "traces/00/trace_full_000001.json", gzip.compress(b"time,lat,lon\n1,2,3\n"))
    (tmp_path / "x.tar").write_bytes(buf.getvalue())
    with ConcatReader([tmp_path / "x.tar"]) as r, pytest.raises(Exception, match="not a readsb trace"):
        list(read_archive(r, "x.tar", KeepRule(keep_all=True)))


# -- the command ---------------------------------------------------------------------------------

def test_cli_fetch_adsb_end_to_end_and_wrong_checksum(hmeimim_ws: Workspace, tmp_path: Path, real_trace: bytes,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    ws_dir = str(hmeimim_ws.folder)
    hmeimim_ws.close()
    parts = split(day_tar(real_trace))
    bad = publish(parts, sums={f"{TAG}.tar.aa": hashlib.sha256(parts[0]).hexdigest(), f"{TAG}.tar.ab": "0" * 64})
    for srv in Mirror(bad).serve():
        code = main(["-q", "-w", ws_dir, "fetch", "adsb", "--archive", "adsblol", "--date", "2024-12-06",
                     "--mirror", srv.url])
        out = capsys.readouterr()
        assert code == 1
        err = [ln for ln in out.err.splitlines() if ln.strip()]
        assert len(err) == 1 and f"{TAG}.tar.ab: SHA-256" in err[0] and "does not match" in err[0]
    for srv in Mirror(publish(parts)).serve():
        args = ["-q", "-w", ws_dir, "fetch", "adsb", "--date", "2024-12-06", "--mirror", srv.url]
        assert main(args) == 0
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert line["release"] == TAG and line["files"] == 2 and line["aircraft_kept"] == 3
        assert line["accepted"] > 0 and line["members_failed"] == 1
        assert not list((Path(ws_dir) / "downloads").rglob("*.tar.*"))  # parts removed after the ingest
        assert main(args) == 0  # again: downloaded again, ingest skipped (same archive, same filter)
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] is True
        code = main(["-q", "-w", ws_dir, "fetch", "adsb", "--date", "2024-12-07", "--mirror", srv.url])
        assert code == 1 and "no globe_history release for 2024-12-07" in capsys.readouterr().err


def test_cli_needs_a_site_and_a_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert main(["-w", str(tmp_path / "ws"), "fetch", "adsb", "--date", "2024-12-06", "--mirror",
                 "http://127.0.0.1:9"]) == 2
    assert "watches no site" in capsys.readouterr().err
    assert main(["-w", str(tmp_path / "ws"), "fetch", "adsb", "--date", "06/12/2024"]) == 2
    assert "is not a date like 2024-12-06" in capsys.readouterr().err
    assert main(["fetch", "adsb", "--help"]) == 0
    assert "--archive adsblol --date 2024-12-06" in capsys.readouterr().out


def test_stream_ingest_commits_in_parts_and_an_interrupted_one_is_undone(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.sources import base
    from sitewatch.sources.adsb import globe
    from sitewatch.store.db import Store
    from sitewatch.store.ingest import ingest_stream

    monkeypatch.setattr(globe, "BATCH_ROWS", 50)  # many small batches, a commit after each
    tar = tmp_path / "day.tar"
    tar.write_bytes(day_tar(None))
    st = Store(tmp_path / "s.duckdb")

    def batches(fail_after: int | None) -> Iterator[Any]:
        with ConcatReader([tar]) as r:
            for i, b in enumerate(read_archive(r, "day.tar", KeepRule(keep_all=True), chunk_bytes=20_000)):
                if fail_after is not None and i == fail_after:
                    raise RuntimeError("simulated crash in the middle of the archive")
                yield b

    def run(fail_after: int | None = None) -> Any:
        return ingest_stream(st, "adsb", "day.tar", "digest", "readsb-trace", batches(fail_after),
                             base.ReadOptions(), commit_rows=10)

    with pytest.raises(RuntimeError, match="simulated crash"):
        run(fail_after=3)
    for t in ("positions", "quarantine", "ingest_log", "ingest_stats"):
        assert st.count(t) == 0, t  # committed parts removed again
    run()
    n = st.count("positions")
    assert n == 577 and st.scalar("SELECT count(*) FROM ingest_log WHERE t_end_utc IS NULL") == 0
    # a killed run leaves committed rows and an unfinished log row: the next run removes them first
    st.sql("UPDATE ingest_log SET t_end_utc = NULL")
    st.sql("DELETE FROM positions WHERE rec_offset > 50")
    again = run()
    assert not again.skipped and st.count("positions") == n and st.count("ingest_log") == 1
    st.close()
