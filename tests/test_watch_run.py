"""``sitewatch watch run``: every configured source for every site, then analyse, assess, alert.

Offline: the adsb.lol stand-in mirror of tests/test_fetch_adsb.py (a SIMULATED day with IL-76s
at Hmeimim plus the real recorded trace) and the Earth Search stand-in of
tests/test_fetch_imagery.py (the real recorded landing page and item, a COG built here). A
failing catalogue is recorded and the other sources go on; the dashboard shows each source's
last fetch, errors and coverage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.test_fetch_adsb import Mirror, day_tar, publish, split
from tests.test_fetch_imagery import FAST, StandIn, build_cog, earth_search, host  # noqa: F401 (fixture)

from sitewatch.alerts import watch_config as W
from sitewatch.alerts.watch_run import run_cycle
from sitewatch.alerts.watch_status import FILE_NAME, read
from sitewatch.cli import main
from sitewatch.errors import ConfigError
from sitewatch.sites import circle_site, from_airport
from sitewatch.workspace import Workspace

NOW = datetime(2024, 12, 7, 6, 0, tzinfo=UTC)


def test_config_is_read_and_checked() -> None:
    plan = W.load({"watch": {"every": "15m", "sources": {
        "adsb": {"source": "adsblol", "sites": ["hmeimim"], "lookback": "3d", "margin_km": 150},
        "s2": {"source": "earth-search-s2", "max_cloud": 40, "every": "6h"}}}})
    assert plan.every_s == 900 and plan.detect is True
    a, s2 = plan.sources
    assert (a.kind, a.sites, a.lookback_s, a.options) == ("adsb", ("hmeimim",), 3 * 86400, {"margin_km": 150})
    assert (s2.kind, s2.sites, s2.every_s, s2.lookback_s) == ("imagery", (), 6 * 3600, 5 * 86400)
    assert W.load({}).sources == ()
    for bad, msg in [({"source": "nope"}, "unknown source 'nope'; registered sources: "),
                     ({"source": "earth-search-s2", "margin_km": 3}, "unknown option 'margin_km' for a imagery"),
                     ({"source": "earth-search-s2", "max_cloud": "x"}, "max_cloud = 'x' has the wrong type"),
                     ({"source": "adsblol", "lookback": "3 weeks"}, "not a duration like 90s, 15m"),
                     ({"sites": ["a"]}, "give source = ")]:
        with pytest.raises(ConfigError, match=msg):
            W.load({"watch": {"sources": {"x": bad}}})
    assert W.duration_s("90s") == 90 and W.fmt_duration(86400) == "1d" and W.fmt_duration(900) == "15m"


def _workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    ws.put_site(from_airport("hmeimim", "OSLK", 6.0))
    ws.put_site(circle_site("boulder", "airbase", 40.1672, -105.1019, 2.0))
    return ws


def _plan(mirror: str, stac: str, extra: dict[str, dict[str, object]] | None = None) -> W.WatchPlan:
    return W.load({"watch": {"sources": {
        "adsb": {"source": "adsblol", "sites": ["hmeimim"], "lookback": "1d", "mirror": mirror},
        "s2": {"source": "earth-search-s2", "sites": ["boulder"], "lookback": "500d", "stac": stac},
        **(extra or {})}}})


def test_a_cycle_fetches_every_source_then_analyses_assesses_and_alerts(host: StandIn, tmp_path: Path) -> None:  # noqa: F811
    cog = build_cog(tmp_path / "tci.tif", -105.1019, 40.1672, 10.0, 1024)
    earth_search(host, cog)
    host.routes["/broken/v1"] = lambda req: (503, {}, b"")
    ws = _workspace(tmp_path)
    assert main(["-w", str(ws.folder), "watch", "add", "airlift", "--type", "IL76", "--near", "hmeimim"]) == 0
    assert main(["-w", str(ws.folder), "watch", "channel", "log", "alerts.log"]) == 0
    broken = {"broken": {"source": "stac", "stac": host.url + "/broken/v1", "collection": "x", "sites": ["boulder"]}}
    for srv in Mirror(publish(split(day_tar(None)))).serve():
        plan = _plan(srv.url, host.url + "/v1", broken)
        said: list[dict[str, object]] = []
        cyc = run_cycle(ws, plan, now=NOW, say=said.append, http=FAST)
        # every source tried; the broken catalogue recorded, the others fetched
        assert [x["entry"] for x in said] == ["adsb", "s2", "broken"]
        assert "HTTP 503 after 4 retries" in str(said[2]["error"])
        assert cyc.errors == 1 and cyc.new > 0 and cyc.analyzed and sorted(cyc.assessed) == ["boulder", "hmeimim"]
        assert ws.store.count("scenes") == 1 and ws.store.count("positions") > 0
        assert ws.store.scalar("SELECT count(*) FROM assessments WHERE site = 'hmeimim'") > 0
        assert cyc.alerts and {a["rule"] for a in cyc.alerts} == {"airlift"}
        assert "airlift" in (ws.folder / "alerts.log").read_text()
        st = read(ws.folder)["sources"]
        assert st["adsb"]["days_done"] == ["2024-12-06"] and st["adsb"]["coverage"] == {
            "from": "2024-12-06T00:00:00Z", "to": "2024-12-07T00:00:00Z"}
        assert st["s2"]["last_data_utc"] == "2023-10-08T18:02:55Z" and st["s2"]["new_last"] == 1
        assert st["s2"]["coverage"]["to"] == "2024-12-07T06:00:00Z" and st["s2"]["last_error"] is None
        assert st["broken"]["consecutive_errors"] == 1 and "HTTP 503" in st["broken"]["last_error"]["message"]
        assert "it shows aircraft ≥ 40 m" in " ".join(st["s2"]["notes"])  # the 10 m scene's gate
        assert not cyc.detected  # and the built-in detector counts none of that at 10 m: not run
        # the next cycle: nothing new, nothing raised twice; the day is not fetched again
        later = NOW + timedelta(hours=1)
        cyc2 = run_cycle(ws, plan, now=later, http=FAST)
        assert cyc2.new == 0 and not cyc2.analyzed and cyc2.alerts == []
        st = read(ws.folder)["sources"]
        assert st["adsb"]["days_done"] == ["2024-12-06"] and st["broken"]["errors_total"] == 2
        assert st["s2"]["new_total"] == 1 and st["s2"]["last_success_utc"] == "2024-12-07T07:00:00Z"
        # two days on: 12-07 and 12-08 are not published yet: pending, not errors
        plan2 = W.load({"watch": {"sources": {"adsb": {"source": "adsblol", "sites": ["hmeimim"], "lookback": "2d",
                                                       "mirror": srv.url}}}})
        cyc3 = run_cycle(ws, plan2, now=datetime(2024, 12, 9, 1, 0, tzinfo=UTC), http=FAST)
        assert cyc3.errors == 0 and read(ws.folder)["sources"]["adsb"]["pending"] == 2
    ws.close()


def test_every_and_an_unknown_site_are_respected(host: StandIn, tmp_path: Path) -> None:  # noqa: F811
    cog = build_cog(tmp_path / "tci.tif", -105.1019, 40.1672, 10.0, 1024)
    earth_search(host, cog)
    ws = _workspace(tmp_path)
    plan = W.load({"watch": {"sources": {
        "s2": {"source": "earth-search-s2", "sites": ["boulder"], "lookback": "500d", "stac": host.url + "/v1",
               "every": "1d"},
        "gone": {"source": "earth-search-s2", "sites": ["tartus"], "stac": host.url + "/v1"}}}})
    run_cycle(ws, plan, now=NOW, http=FAST)
    n = len(host.of("/v1/search"))
    cyc = run_cycle(ws, plan, now=NOW + timedelta(hours=2), http=FAST)
    assert len(host.of("/v1/search")) == n  # s2 not due for a day
    assert [x["entry"] for x in cyc.fetched] == ["gone"] and "tartus" in str(cyc.fetched[0]["error"])
    run_cycle(ws, plan, now=NOW + timedelta(days=1, minutes=1), http=FAST)
    assert len(host.of("/v1/search")) > n
    ws.close()


def test_cli_sources_run_once_and_the_dashboard_panel(host: StandIn, tmp_path: Path,  # noqa: F811
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cog = build_cog(tmp_path / "tci.tif", -105.1019, 40.1672, 10.0, 1024)
    earth_search(host, cog)
    ws = _workspace(tmp_path)
    d = str(ws.folder)
    ws.close()
    assert main(["-w", d, "watch", "source", "add", "s2", "earth-search-s2", "--site", "boulder", "--lookback",
                 "3000d", "--max-cloud", "40", "--stac", host.url + "/v1", "--set", "limit=5"]) == 0
    assert main(["-w", d, "watch", "source", "add", "s2", "earth-search-s2"]) == 2
    assert "exists; remove it first" in capsys.readouterr().err
    assert main(["-w", d, "watch", "source", "add", "x", "earth-search-s2", "--site", "nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err
    toml = (Path(d) / "sitewatch.toml").read_text()
    assert "[watch.sources.s2]" in toml and 'lookback = "3000d"' in toml and "limit = 5" in toml
    assert main(["-w", d, "watch", "run", "--once"]) == 0
    out = capsys.readouterr()
    lines = [json.loads(x) for x in out.out.splitlines()]
    assert lines[0]["entry"] == "s2" and lines[0]["new"] == 1 and lines[-1]["cycle"] and lines[-1]["new"] == 1
    assert "watch s2 (earth-search-s2): 1 new" in out.err
    assert main(["-w", d, "watch", "source", "list", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["name"] == "s2" and row["errors"] == 0 and row["coverage"].endswith("Z")
    # the dashboard: each source's last fetch, errors, coverage; fetched licences
    from fastapi.testclient import TestClient

    from sitewatch.web.app import create_app

    with TestClient(create_app(d), client=("127.0.0.1", 50000)) as client:
        r = client.get("/api/watch/sources")
        assert r.status_code == 200
        body = r.json()
    [src] = body["sources"]
    assert src["entry"] == "s2" and src["configured"] and src["last_success_utc"] and src["coverage"]["from"]
    assert src["errors_total"] == 0 and body["last_cycle"]["new"] == 1
    assert body["fetched"][0]["licence"] == "Copernicus-Sentinel-data-terms"
    assert main(["-w", d, "watch", "source", "remove", "s2"]) == 0
    assert "[watch.sources.s2]" not in (Path(d) / "sitewatch.toml").read_text()
    assert main(["-w", d, "watch", "run", "--once", "--every", "1m"]) == 2
    assert main(["watch", "run", "--help"]) == 0
    assert "sitewatch watch run --every 15m" in capsys.readouterr().out


def test_report_names_fetched_sources_with_licence_and_attribution(host: StandIn, tmp_path: Path) -> None:  # noqa: F811
    from sitewatch.report.sources import attributions, fetched_sources

    cog = build_cog(tmp_path / "tci.tif", -105.1019, 40.1672, 10.0, 1024)
    earth_search(host, cog)
    ws = _workspace(tmp_path)
    for srv in Mirror(publish(split(day_tar(None)))).serve():
        run_cycle(ws, _plan(srv.url, host.url + "/v1"), now=NOW, http=FAST)
    boulder = fetched_sources(ws.store, "boulder")
    assert [f["source"] for f in boulder] == ["earth-search-s2"]  # adsb.lol was fetched for hmeimim only
    atts = attributions(ws.store, ws.site("boulder"), [], [], [], ["sentinel-2a via Sentinel-2 L2A (Copernicus/ESA) "
                                                                   "via Earth Search"])
    lines = [f"{a.what} | {a.used_for} | {a.licence}" for a in atts]
    assert any("Sentinel-2 L2A (Copernicus/ESA) via Earth Search (fetched: earth-search-s2)" in x
               and "Copernicus-Sentinel-data-terms" in x and "Contains modified Copernicus Sentinel data 2023" in x
               for x in lines)
    assert not any(x.startswith("imagery: sentinel-2a") for x in lines)  # not twice
    hm = attributions(ws.store, ws.site("hmeimim"), [], [], [], [])
    assert any("adsb.lol" in a.what and "ODbL-1.0" in a.licence and "Contains ADS-B data from adsb.lol" in a.licence
               for a in hm)
    ws.close()


def test_every_loop_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.close()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = "import sys; from sitewatch.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", cmd, "-w", str(tmp_path / "ws"), "watch", "run", "--every", "30s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first cycle's line
        assert json.loads(first)["cycle"] is True
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "watch stopped (Ctrl-C)" in err and "Traceback" not in err
    assert (tmp_path / "ws" / FILE_NAME).is_file()
    # the workspace is free again (closed between cycles)
    Workspace.open(tmp_path / "ws").close()


def test_an_ais_archive_is_watched_day_by_day(tmp_path: Path) -> None:
    import io
    import zipfile

    from tests.conftest import shared

    csv = shared("data/api-samples/dma-ais/test_aisdk_20180208_sample.csv").read_bytes()
    mirror = tmp_path / "aisdk"
    mirror.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("aisdk-2018-02-08.csv", csv)
    (mirror / "aisdk-2018-02-08.zip").write_bytes(buf.getvalue())
    ws = Workspace.init(tmp_path / "ws")
    ws.put_site(circle_site("kattegat", "port", 57.58, 11.65, 10.0))
    plan = W.load({"watch": {"sources": {"ais": {"source": "dma", "lookback": "1d", "mirror": mirror.as_uri(),
                                                  "margin_km": 30}}}})
    cyc = run_cycle(ws, plan, now=datetime(2018, 2, 9, 6, 0, tzinfo=UTC), http=FAST)
    assert cyc.errors == 0 and cyc.new > 0 and ws.store.scalar("SELECT count(*) FROM positions WHERE source='ais'") > 0
    st = read(ws.folder)["sources"]["ais"]
    assert st["days_done"] == ["2018-02-08"] and st["kind"] == "ais"
    assert (mirror / "aisdk-2018-02-08.zip").is_file()  # a local mirror's file is never deleted
    ws.close()
