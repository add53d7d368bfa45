"""Real inputs that must never surprise: compressed files cut short, and hex frame CSVs in the
layouts receivers and archives really write (quoted frames, extra columns, no header)."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.cli import main
from sitewatch.sources import base
from sitewatch.workspace import Workspace

T1 = "!AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0*09"  # type 1, MMSI 367309370


def _nmea(n: int, t0: int = 1733637600) -> bytes:
    """``n`` NMEA lines of one ship, one second apart (distinct positions in the store)."""
    return "".join(f"{t0 + i},{T1}\n" for i in range(n)).encode()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    w = str(tmp_path / "ws")
    assert _cli(capsys, "init", w)[0] == 0
    return w


COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress, "zstd": zstandard.ZstdCompressor().compress, "bzip2": bz2.compress,
    "xz": lzma.compress,
}
SUFFIX = {"gzip": ".gz", "zstd": ".zst", "bzip2": ".bz2", "xz": ".xz"}


# -- compressed files cut short ------------------------------------------------------------------


@pytest.mark.parametrize("codec", sorted(COMPRESS))
@pytest.mark.parametrize("content", [20_000, 5])  # cut deep inside, or within the first bytes
def test_truncated_file_is_one_error_and_the_next_file_is_ingested(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], codec: str, content: int) -> None:
    w = _ws(tmp_path, capsys)
    whole = COMPRESS[codec](_nmea(content))
    cut = tmp_path / f"a.nmea{SUFFIX[codec]}"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    good = tmp_path / "b.nmea"
    good.write_bytes(_nmea(50, t0=1733640000))
    code, out, err = _cli(capsys, "-w", w, "ingest", "ais", str(cut), str(good))
    assert code == 1  # some file failed; not 130 "aborted"
    assert "aborted" not in err and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    size = cut.stat().st_size
    assert lines[0].startswith(f"error: {cut} (byte {size}): the {codec} data end early")
    assert "nothing of this file was ingested" in lines[0]
    summary = json.loads(out)
    assert summary["files"] == 1 and summary["failed_files"] == 1 and summary["accepted"] == 50
    with Workspace.open(w, read_only=True) as ws:  # nothing of the cut file, all of the other
        assert ws.store.rows("SELECT count(*) AS n, count(DISTINCT file_id) AS f FROM positions") == [
            {"n": 50, "f": 1}]
        assert ws.store.rows("SELECT path FROM ingest_log") == [{"path": str(good)}]


def test_corrupt_gzip_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = _ws(tmp_path, capsys)
    data = bytearray(gzip.compress(_nmea(20_000)))
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
    bad = tmp_path / "bad.nmea.gz"
    bad.write_bytes(bytes(data))
    good = tmp_path / "good.nmea.gz"
    good.write_bytes(gzip.compress(_nmea(10, t0=1733640000)))
    code, out, err = _cli(capsys, "-w", w, "ingest", "ais", str(bad), str(good))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {bad} (byte ") and "gzip data are corrupt" in err
    assert json.loads(out)["accepted"] == 10


def test_truncated_tar_gz_keeps_the_members_before_the_cut(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    w = _ws(tmp_path, capsys)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for k in range(4):
            body = _nmea(3000, t0=1733637600 + 10_000 * k)
            info = tarfile.TarInfo(f"day/part{k}.nmea")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    whole = gzip.compress(buf.getvalue())
    arch = tmp_path / "day.tar.gz"
    arch.write_bytes(whole[: len(whole) * 3 // 4])
    code, out, err = _cli(capsys, "-w", w, "ingest", "ais", str(arch))
    summary = json.loads(out)
    assert code == 1 and summary["failed_files"] == 1
    assert 1 <= summary["files"] <= 3 and summary["accepted"] == 3000 * summary["files"]
    assert len(err.strip().splitlines()) == 1
    assert f"{arch} (byte {arch.stat().st_size}): the gzip data end early" in err


def test_truncated_plain_tar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = _ws(tmp_path, capsys)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for k in range(2):
            body = _nmea(2000, t0=1733637600 + 10_000 * k)
            info = tarfile.TarInfo(f"part{k}.nmea")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    data = buf.getvalue()
    arch = tmp_path / "day.tar"
    arch.write_bytes(data[: len(data) * 3 // 4])  # inside the second member
    code, out, err = _cli(capsys, "-w", w, "ingest", "ais", str(arch))
    summary = json.loads(out)
    assert code == 1 and summary["files"] == 1 and summary["failed_files"] == 1 and summary["accepted"] == 2000
    assert f"{arch}!part1.nmea" in err or f"{arch} (byte" in err
    assert "tar data end early" in err


def test_every_zstd_frame_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A zstd file of several frames (zstd -c a >> f; zstd -c b >> f) once stopped after the first."""
    w = _ws(tmp_path, capsys)
    c = zstandard.ZstdCompressor()
    p = tmp_path / "frames.nmea.zst"
    p.write_bytes(c.compress(_nmea(100)) + c.compress(_nmea(100, t0=1733640000)))
    code, out, err = _cli(capsys, "-w", w, "ingest", "ais", str(p))
    assert code == 0 and json.loads(out)["accepted"] == 200, err


# -- hex frame CSVs: layouts told by their content ----------------------------------------------

T0 = 1733637600.0  # 2024-12-08 06:00 UTC


def _frames(n: int = 120) -> list[tuple[float, str]]:
    """(time, hex) of an aircraft flying east at 450 kt: alternating even/odd airborne
    positions every 0.5 s, plus a 56-bit DF11 every tenth frame (14 hex digits)."""
    from sitewatch.simulate.modes import airborne_position_me, df17

    out = []
    for i in range(n):
        t = T0 + 0.5 * i
        if i % 10 == 9:
            out.append((t, "5d4840d6a3b2c1"))  # DF11 all-call reply (its CRC need not be right)
            continue
        lon = 35.9 + i * 0.5 * 450 / 3600 / 60 / 0.81
        out.append((t, df17("4840d6", airborne_position_me(35.4, lon, 12000, odd=bool(i % 2))).hex()))
    return out


def _read_all(path: Path) -> tuple[list[tuple[object, ...]], list[str], dict[str, int]]:
    from sitewatch.sources.base import ReadOptions, detect, iter_inputs

    src = next(iter_inputs([path]))
    reader = detect("adsb", src)
    assert reader.name == "hex"
    rows: list[tuple[object, ...]] = []
    reasons: list[str] = []
    counters: dict[str, int] = {}
    for b in reader.read(src, ReadOptions()):
        if b.table == "positions" and b.rows.num_rows:
            rows += list(zip(*(b.rows.column(c).to_pylist() for c in ("t_utc", "lat", "lon", "rec_offset")),
                             strict=True))
        reasons += [r.reason for r in b.rejects]
        for k, v in b.counters.items():
            counters[k] = counters.get(k, 0) + v
    return rows, reasons, counters


def _canonical(tmp_path: Path, frames: list[tuple[float, str]]) -> list[tuple[object, ...]]:
    p = tmp_path / "canon.csv"
    p.write_text("ts,hex\n" + "".join(f"{t!r},{f}\n" for t, f in frames))
    rows, reasons, _ = _read_all(p)
    assert rows and not reasons
    return [(t, la, lo, off - 1) for t, la, lo, off in rows]  # line numbers without its header


def _time_text(t: float, kind: str) -> str:
    from datetime import UTC, datetime

    if kind == "ms":
        return str(round(t * 1000))
    if kind == "iso":
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return repr(t)


EXTRA = {  # other columns receivers write, by kind: (header name, value for frame i)
    "addr": ("icao", lambda i: "4840d6"),
    "type": ("df", lambda i: "17" if i % 10 != 9 else "11"),
    "signal": ("rssi", lambda i: f"-{12 + i % 7}.5"),
    "text": ("rx", lambda i: "station-1"),
    "serial": ("n", lambda i: str(i)),
}


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(sorted(EXTRA)), max_size=4), st.data(),
       st.sampled_from(["s", "ms", "iso"]), st.sampled_from([",", "\t", ";", "|"]),
       st.booleans(), st.booleans(), st.booleans())
def test_headerless_layouts_read_like_the_canonical_csv(
        extra: list[str], data: st.DataObject, time_kind: str, delim: str, quoted: bool, wrapped: bool,
        unknown_header: bool) -> None:
    """Any mix of extra columns, in any order, time as seconds/ms/ISO, any delimiter, frame quoted
    or dump1090-wrapped, with or without a header of unknown names: the same positions as TIME,HEX."""
    import tempfile

    frames = _frames()
    order = data.draw(st.permutations(["time", "frame", *extra]))
    rows = []
    for i, (t, f) in enumerate(frames):
        fr = f"*{f};" if wrapped else f
        fr = f'"{fr}"' if quoted else fr
        vals = {"time": _time_text(t, time_kind), "frame": fr}
        rows.append(delim.join(vals[c] if c in vals else EXTRA[c][1](i) for c in order))
    head = [delim.join({"time": "when", "frame": "payload"}.get(c) or EXTRA[c][0] for c in order)] \
        if unknown_header else []
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "frames.txt"
        p.write_text("\n".join(head + rows) + "\n")
        got, reasons, counters = _read_all(p)
        want = _canonical(Path(tmp), frames)
    shift = 1 if unknown_header else 0
    assert not reasons
    assert counters["hex_time_column"] == order.index("time") + 1
    assert counters["hex_frame_column"] == order.index("frame") + 1
    assert [(t, la, lo, off - shift) for t, la, lo, off in got] == want


def test_relative_times_and_plain_time_hex_still_read(tmp_path: Path) -> None:
    frames = _frames(40)
    p = tmp_path / "rel.csv"
    p.write_text("".join(f"{t - T0:.3f},{f}\n" for t, f in frames))
    rows, reasons, counters = _read_all(p)
    assert rows and not reasons and counters["hex_time_column"] == 1


@pytest.mark.parametrize(("lines", "why"), [
    (["{t},{f},{t2}"], "columns 1 and 3 all hold times, and they disagree"),
    (["{t},{f},{f2}"], "columns 2 and 3 all hold 14/28-hex-digit frames, with different values"),
    (["abc,{f},x"], "no column holds times"),
    (["{r},{f},-12.5"], "columns 1 and 3 all hold numbers"),
])
def test_ambiguous_layouts_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               lines: list[str], why: str) -> None:
    w = _ws(tmp_path, capsys)
    frames = _frames(30)
    amb = tmp_path / "amb.csv"
    amb.write_text("".join(lines[0].format(t=t, t2=t + 7200, f=f, f2=frames[-1 - i][1], r=i * 0.5) + "\n"
                           for i, (t, f) in enumerate(frames)))
    good = tmp_path / "good.csv"
    good.write_text("".join(f"{t},{f}\n" for t, f in frames))
    code, out, err = _cli(capsys, "-w", w, "ingest", "adsb", str(amb), str(good))
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {amb} (line 1): hex frames, but the columns are ambiguous: ")
    assert why in err and "add a header line naming the time and the frame column" in err
    summary = json.loads(out)
    assert summary["files"] == 1 and summary["failed_files"] == 1 and summary["accepted"] > 0


def test_sniffed_columns_are_logged_and_kept_in_ingest_stats(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from sitewatch.store.ingest import ingest_paths

    p = tmp_path / "rx.tsv"
    p.write_text("".join(f'4840d6\t"{f}"\t{t}\t-9.5\n' for t, f in _frames()))
    ws = Workspace.init(tmp_path / "ws")
    try:
        with caplog.at_level(logging.INFO, logger="sitewatch.sources.adsb.hexframes"):
            s = ingest_paths(ws.store, "adsb", [p])
        assert s.failed_files == 0 and s.rejected == 0 and s.accepted > 50
        assert "time from column 3 (epoch seconds), frame from column 2" in caplog.text
        assert "tab-delimited, 4 columns, no header" in caplog.text
        stats = dict(ws.store.sql("SELECT name, value FROM ingest_stats"))
        assert stats["hex_time_column"] == 3 and stats["hex_frame_column"] == 2
    finally:
        ws.close()


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(st.text(st.characters(codec="ascii", exclude_characters="\n\r"), max_size=30),
                         min_size=1, max_size=5), min_size=1, max_size=20))
def test_sniffer_never_raises_and_answers_in_range(rows: list[list[str]]) -> None:
    from sitewatch.sources.adsb import _hexlayout
    from sitewatch.sources.adsb.hexframes import HexReader

    head = "\n".join(",".join(r) for r in rows).encode()
    out = _hexlayout.sniff(head)
    assert out is None or isinstance(out, _hexlayout.Layout | _hexlayout.Ambiguous)
    assert 0.0 <= HexReader().sniff(head, "x.csv") <= 1.0


# -- zip archives (DMA and MarineCadastre publish their days as zips) -------------------------------

def _zip(path: Path, members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)


@pytest.mark.parametrize("in_memory", [True, False])
def test_zip_members_are_ingested_like_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, in_memory: bool) -> None:
    if not in_memory:  # members above the in-memory limit are opened again when read
        monkeypatch.setattr(base, "MEMBER_IN_MEMORY_BYTES", 100)
    w = _ws(tmp_path, capsys)
    parts = [_nmea(1500, t0=1733637600 + 10_000 * k) for k in range(3)]
    arch = tmp_path / "aisdk-2024-12-08.zip"
    _zip(arch, [("day/", b""), ("day/part0.nmea", parts[0]), ("day/.hidden", b"x"),
                ("day/part1.nmea.gz", gzip.compress(parts[1])), ("day/part2.nmea", parts[2])])
    code, out, err = _cli(capsys, "-w", w, "ingest", "ais", str(arch))
    s = json.loads(out)
    assert code == 0 and s["files"] == 3 and s["accepted"] == 4500 and not err.strip()
    with Workspace.open(w) as ws:
        paths = [r["path"] for r in ws.store.rows("SELECT path FROM ingest_log ORDER BY file_id")]
    assert paths == [f"{arch}!day/part0.nmea", f"{arch}!day/part1.nmea.gz", f"{arch}!day/part2.nmea"]
    code, out, _ = _cli(capsys, "-w", w, "ingest", "ais", str(arch))
    assert json.loads(out)["skipped_files"] == 3  # idempotent
    if in_memory:  # small members are read through the archive opened once, not reopened each
        opened: list[object] = []
        real = zipfile.ZipFile

        def counting(*a: object, **k: object) -> zipfile.ZipFile:
            opened.append(a[0])
            return real(*a, **k)  # type: ignore[arg-type]

        monkeypatch.setattr(zipfile, "ZipFile", counting)
        assert len(list(base.iter_inputs([arch]))) == 3 and len(opened) == 1


def test_truncated_zip_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = _ws(tmp_path, capsys)
    arch = tmp_path / "aisdk-2024-12-08.zip"
    _zip(arch, [(f"part{k}.nmea", _nmea(2000, t0=1733637600 + 10_000 * k)) for k in range(2)])
    data = arch.read_bytes()
    arch.write_bytes(data[: len(data) * 3 // 4])  # the directory at its end is gone
    code, out, err = _cli(capsys, "-w", w, "ingest", "ais", str(arch))
    assert code == 1 and json.loads(out)["failed_files"] == 1 and json.loads(out)["accepted"] == 0
    assert len(err.strip().splitlines()) == 1
    assert str(arch) in err and "not a readable zip archive" in err and "download or copy it again" in err


def test_a_corrupt_zip_member_fails_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = _ws(tmp_path, capsys)
    arch = tmp_path / "day.zip"
    bodies = [_nmea(1000, t0=1733637600 + 10_000 * k) for k in range(3)]
    _zip(arch, [(f"part{k}.nmea", b) for k, b in enumerate(bodies)], zipfile.ZIP_STORED)
    data = bytearray(arch.read_bytes())
    at = data.index(f"{1733637600 + 10_000 + 300},".encode())  # a line only the second member has
    assert data.count(f"{1733637600 + 10_000 + 300},".encode()) == 1  # (its CRC will no longer match)
    data[at] ^= 0x01
    arch.write_bytes(bytes(data))
    code, out, err = _cli(capsys, "-w", w, "ingest", "ais", str(arch))
    s = json.loads(out)
    assert code == 1 and s["files"] == 2 and s["failed_files"] == 1 and s["accepted"] == 2000
    assert f"{arch}!part1.nmea" in err and "zip data are corrupt" in err and len(err.strip().splitlines()) == 1
