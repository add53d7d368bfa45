"""``sitewatch fetch ais`` offline: stand-in DMA and MarineCadastre archives on 127.0.0.1 with faults.

The stand-in serves each day's zip built at test time from the real recorded sample rows in
``../shared/data/api-samples`` (DMA ``aisdk`` rows of 2018-02-08; a MarineCadastre excerpt of
2023-01-11; skipped with a reason where absent) under the publishers' file names. Faults: 429
with Retry-After, 503, a body cut short then resumed with ``Range``, a missing day, a damaged
zip. The rows must be those ``ingest ais`` reads from the same CSV, restricted to the vessels
passing near a watched site; provenance (URL, size, SHA-256, licence, attribution) is
recorded; a second fetch of the day is skipped. Nothing reaches the internet.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest
from tests.conftest import shared
from tests.test_fetch_adsb import Mirror

from sitewatch.acquire import get, sources
from sitewatch.acquire.ais_archives import KeepVessels, areas_for
from sitewatch.acquire.http import FetchError, HttpOptions
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.sites import circle_site
from sitewatch.store.ingest_log import fetched
from sitewatch.store.ingest_log import sources as fetched_sources
from sitewatch.workspace import Workspace

DMA_CSV = "data/api-samples/dma-ais/test_aisdk_20180208_sample.csv"
MC_CSV = "data/api-samples/marinecadastre-ais/AIS_2023_01_11_excerpt_aisdb-testdata.csv"
KATTEGAT = circle_site("kattegat", "other", 57.65, 11.7, 10.0)
DELTA = circle_site("delta", "other", 29.3, -90.0, 10.0)  # the Mississippi delta
QUICK = HttpOptions(sleep=lambda s: None, retries=4)


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def _reference(tmp_path: Path, csv_path: Path, fmt: str) -> Workspace:
    """What `ingest ais` stores from the same CSV (every vessel)."""
    w = Workspace.init(tmp_path / f"ref-{fmt}")
    w.ingest("ais", [str(csv_path)], format=fmt)
    return w


def test_sources_registered() -> None:
    assert set(sources("ais")) >= {"dma", "marinecadastre"}
    dma = get("ais", "dma")
    assert dma.url(date(2024, 12, 6)) == "http://web.ais.dk/aisdata/aisdk-2024-12-06.zip"
    mc = get("ais", "marinecadastre")
    assert mc.url(date(2023, 1, 11)) == "https://coast.noaa.gov/htdata/CMSP/AISDataHandler/2023/AIS_2023_01_11.zip"
    assert "Danish Maritime Authority" in dma.info.attribution


def test_dma_day_with_faults_resumed_checked_and_recorded(tmp_path: Path) -> None:
    csv = shared(DMA_CSV)
    data = csv.read_bytes().replace(b"\n", b"\r\n")  # as published (CRLF)
    z = _zip("aisdk-2018-02-08.csv", data)
    path = "/aisdk-2018-02-08.zip"
    ref = _reference(tmp_path, csv, "dma")
    want = ref.store.rows("SELECT id, t_utc, lat, lon, speed_kt, status FROM positions ORDER BY id, t_utc")
    ref.close()
    for srv in Mirror({path: z}, {path: ["429", "503", f"cut:{len(z) // 2}"]}).serve():
        src = get("ais", "dma").configured(srv.url, QUICK)
        with Workspace.init(tmp_path / "ws") as ws:
            ws.put_site(KATTEGAT)
            f = src.fetch(date(2018, 2, 8), tmp_path / "dl")
            assert f.size_bytes == len(z) and f.sha256 == hashlib.sha256(z).hexdigest()
            ranges = [r for m, p, r in srv.requests if m == "GET" and r]
            assert ranges == [f"bytes={len(z) // 2}-"]  # resumed where the cut left it
            keep = KeepVessels(areas_for([KATTEGAT], 100.0), 100.0)
            res = src.ingest(ws.store, date(2018, 2, 8), f, keep)
            got = ws.store.rows("SELECT id, t_utc, lat, lon, speed_kt, status FROM positions ORDER BY id, t_utc")
            assert got == want and res.accepted - res.counters["static_reports_kept"] == len(want) > 5
            (prov,) = fetched(ws.store)
            assert prov["source"] == "dma" and prov["licence"].startswith("DMA")
            assert prov["files"] == [{"url": f"{srv.url}{path}", "name": "aisdk-2018-02-08.zip",
                                      "size_bytes": len(z), "sha256": hashlib.sha256(z).hexdigest()}]
            assert fetched_sources(ws.store)[0]["attribution"].startswith("Contains data from the Danish Maritime")
            again = src.ingest(ws.store, date(2018, 2, 8), f, keep)
            assert again.skipped


def test_marinecadastre_keeps_the_vessels_near_the_sites(tmp_path: Path) -> None:
    csv = shared(MC_CSV)
    z = _zip("AIS_2023_01_11.csv", csv.read_bytes())
    ref = _reference(tmp_path, csv, "marinecadastre")
    (x0, y0, x1, y1) = (a := areas_for([DELTA], 50.0)[0]).lon_min, a.lat_min, a.lon_max, a.lat_max
    near = {r[0] for r in ref.store.sql("SELECT DISTINCT id FROM positions WHERE lon BETWEEN ? AND ? AND lat "
                                        "BETWEEN ? AND ?", [x0, x1, y0, y1])}
    want = ref.store.scalar(f"SELECT count(*) FROM positions WHERE id IN ({','.join('?' * len(near))})", list(near))
    total = ref.store.count("positions")
    ref.close()
    assert len(near) > 0 and want < total
    for srv in Mirror({"/2023/AIS_2023_01_11.zip": z}).serve():
        src = get("ais", "marinecadastre").configured(srv.url, QUICK)
        with Workspace.init(tmp_path / "ws") as ws:
            ws.put_site(DELTA)
            f = src.fetch(date(2023, 1, 11), tmp_path / "dl")
            res = src.ingest(ws.store, date(2023, 1, 11), f, KeepVessels(areas_for([DELTA], 50.0), 50.0))
            ids = {r[0] for r in ws.store.sql("SELECT DISTINCT id FROM positions")}
            assert ids == near and res.accepted - res.counters.get("static_reports_kept", 0) == want
            assert res.counters["not_near_sites"] == total - want and res.counters["vessels_kept"] == len(near)
            assert {r[0] for r in ws.store.sql("SELECT DISTINCT mmsi FROM vessel_reports")} <= near


def test_cli_fetch_ais_day_then_skip_missing_day_damaged_zip(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    csv = shared(DMA_CSV)
    z = _zip("aisdk-2018-02-08.csv", csv.read_bytes())
    wsd = str(tmp_path / "ws")
    assert main(["init", wsd]) == 0
    assert main(["-w", wsd, "site", "add", "kattegat", "--point", "57.65,11.7", "--radius-km", "10"]) == 0
    capsys.readouterr()
    files = {"/aisdk-2018-02-08.zip": z, "/aisdk-2018-02-10.zip": b"PK\x03\x04 not really a zip"}
    for srv in Mirror(files).serve():
        args = ["-q", "-w", wsd, "fetch", "ais", "--archive", "dma", "--mirror", srv.url]
        assert main([*args, "--date", "2018-02-08"]) == 0
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert line["accepted"] > 5 and line["files"] == ["aisdk-2018-02-08.zip"] and not line["skipped"]
        assert not list((tmp_path / "ws" / "downloads" / "dma").glob("*.zip"))  # deleted after the ingest
        assert main([*args, "--date", "2018-02-08"]) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] is True
        assert main([*args, "--date", "2018-02-09", "--to", "2018-02-10"]) == 1
        err = capsys.readouterr().err
        assert "2018-02-09: Danish Maritime Authority historical AIS (aisdk daily CSV) has no file" in err
        assert "monthly archives" in err and "2018-02-10: aisdk-2018-02-10.zip: not a readable zip" in err
    with Workspace.open(wsd) as ws:
        assert ws.store.scalar("SELECT count(*) FROM vessels") > 0  # identities refreshed after the fetch


def test_cli_fetch_ais_help_and_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "ais", "--help"]) == 0
    out = capsys.readouterr().out
    assert "fetch ais --archive dma --date 2024-12-06" in out and "--archive marinecadastre" in out
    assert main(["init", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert main(["-w", str(tmp_path / "ws"), "fetch", "ais", "--archive", "dma", "--date", "2024-12-06"]) == 2
    assert "watches no site" in capsys.readouterr().err
    with pytest.raises(InputError, match="daily CSV files start in 2015"), \
            Workspace.open(tmp_path / "ws"):
        for srv in Mirror({}).serve():
            get("ais", "marinecadastre").configured(srv.url, QUICK).fetch(date(2012, 5, 1), tmp_path / "dl")
    with pytest.raises(FetchError):
        get("ais", "dma").configured("http://127.0.0.1:9", HttpOptions(sleep=lambda s: None, retries=1)).fetch(
            date(2024, 1, 1), tmp_path / "dl")
