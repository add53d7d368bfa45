"""Real inputs that must never surprise: compressed files cut short, and hex frame CSVs in the
layouts receivers and archives really write (quoted frames, extra columns, no header)."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from sitewatch.cli import main
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
