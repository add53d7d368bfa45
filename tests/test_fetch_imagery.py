"""``sitewatch fetch imagery`` offline: stand-in catalogues and COG hosts on 127.0.0.1.

The catalogues answer with the real recorded responses of ../shared/data/api-samples (Earth
Search landing page, search pages and items; CDSE items; Planet items; the Maxar tiles'
properties) with their hrefs pointed at the stand-in; the COGs are built here with rasterio
(SIMULATED pixels) and served with Range support. Faults: 429 + Retry-After, 5xx, a stalled
answer (timeout), a body cut short, bad JSON, unknown fields (tolerated), items missing
fields (quarantined), a cut tile (re-read), an interrupted window (read again next run).
Nothing reaches the internet; tests marked ``live`` do, and run only with SITEWATCH_LIVE=1.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import shared

from sitewatch.acquire import get
from sitewatch.acquire._imagery import fetch, gate
from sitewatch.acquire._stacapi import Api, NotJson, fetch_json, search_body
from sitewatch.acquire.http import FetchError, HttpOptions
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.sites import circle_site
from sitewatch.store.ingest_log import fetched, sources
from sitewatch.workspace import Workspace

ES = "data/api-samples/stac-earth-search-v1"
CDSE = "data/api-samples/stac-cdse"
PLANET = "data/api-samples/planet-data-api"
MAXAR = "data/api-samples/maxar-open-data"
FAST = HttpOptions(timeout_s=2.0, retries=4, backoff_s=0.01, max_wait_s=0.05, sleep=lambda s: None)


def sample(rel: str) -> Any:
    return json.loads(shared(rel).read_text(encoding="utf-8"))


# -- a stand-in HTTP host --------------------------------------------------------------------------
@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


Route = Callable[[Req], tuple[int, dict[str, str], bytes]]


@dataclass
class StandIn:
    """Routes by path (exact, else the longest prefix ending in '/'); files served with Range;
    faults per path, consumed in order: 429, 503, stall, cut, badjson, html."""

    routes: dict[str, Route | bytes] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=dict)
    requests: list[Req] = field(default_factory=list)
    served_bytes: dict[str, int] = field(default_factory=dict)
    url: str = ""

    def start(self) -> tuple[ThreadingHTTPServer, threading.Thread]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_HEAD(self) -> None:
                self._answer(head=True)

            def do_POST(self) -> None:
                self._answer()

            def _answer(self, head: bool = False) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw.decode()
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                path = self.path.split("?")[0]
                req = Req(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
                host.requests.append(req)
                fault = None if head else (host.faults.get(path) or [None]).pop(0)
                if fault in ("429", "503"):
                    return self._send(int(fault), {"Retry-After": "0"}, b"")
                if fault == "stall":
                    time.sleep(2.5)
                route = host.routes.get(path) or next(
                    (r for p, r in sorted(host.routes.items(), key=lambda kv: -len(kv[0]))
                     if p.endswith("/") and path.startswith(p)), None)
                if route is None:
                    return self._send(404, {"Content-Type": "application/json"},
                                      b'{"code":"NotFound","description":"Not Found"}')
                if isinstance(route, bytes):
                    return self._file(path, route, head, fault)
                status, headers, data = route(req)
                if fault == "badjson":
                    data = b"<html>Bad gateway</html>"
                if fault == "cut":
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                return self._send(status, headers, data, head)

            def _file(self, path: str, data: bytes, head: bool, fault: str | None) -> None:
                rng = self.headers.get("Range")
                if rng:
                    a, _, b = rng.split("=", 1)[1].partition("-")
                    start, end = int(a), min(int(b) if b else len(data) - 1, len(data) - 1)
                    body = data[start:end + 1]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                else:
                    body = data
                    self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "image/tiff")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if head:
                    return
                if fault == "cut":
                    body = body[: len(body) // 2]
                    self.close_connection = True
                host.served_bytes[path] = host.served_bytes.get(path, 0) + len(body)
                self.wfile.write(body)

            def _send(self, status: int, headers: dict[str, str], data: bytes, head: bool = False) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{srv.server_port}"
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        return srv, t

    def of(self, path: str) -> list[Req]:
        return [r for r in self.requests if r.path.split("?")[0] == path]


@pytest.fixture
def host() -> Iterator[StandIn]:
    h = StandIn()
    srv, t = h.start()
    yield h
    srv.shutdown()
    srv.server_close()
    t.join(5)


def as_json(doc: Any, status: int = 200) -> Route:
    data = json.dumps(doc).encode()
    return lambda req: (status, {"Content-Type": "application/geo+json"}, data)


def rebase(doc: Any, old: str, new: str) -> Any:
    """``doc`` with every string starting ``old`` rewritten to start ``new``."""
    if isinstance(doc, dict):
        return {k: rebase(v, old, new) for k, v in doc.items()}
    if isinstance(doc, list):
        return [rebase(v, old, new) for v in doc]
    if isinstance(doc, str) and doc.startswith(old):
        return new + doc[len(old):]
    return doc


# -- COGs (SIMULATED pixels) -----------------------------------------------------------------------
def build_cog(path: Path, lon: float, lat: float, gsd: float, size: int, bands: int = 3, dtype: str = "uint8",
              nodata: float | None = None) -> bytes:
    """A tiled COG with overviews centred on (lon, lat) in its UTM zone."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.warp import transform as warp

    from sitewatch.acquire._cog import utm_epsg

    epsg = utm_epsg(lon, lat)
    (x,), (y,) = warp("EPSG:4326", f"EPSG:{epsg}", [lon], [lat])
    half = size * gsd / 2
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:size, 0:size]
    base = ((xx // 16 + yy // 16) % 2 * 120 + 60).astype(np.float32)
    data = np.stack([base + rng.normal(0, 20, base.shape) for _ in range(bands)]).clip(1, 250).astype(dtype)
    prof = {"driver": "COG", "width": size, "height": size, "count": bands, "dtype": dtype,
            "crs": f"EPSG:{epsg}", "transform": from_origin(x - half, y + half, gsd, gsd), "blocksize": 256,
            "compress": "deflate", "nodata": nodata}
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(data)
    return path.read_bytes()


@pytest.fixture(scope="module")
def boulder_cog(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """10 m, 1536 px, around the recorded Earth Search item's point (-105.1019, 40.1672)."""
    return build_cog(tmp_path_factory.mktemp("cog") / "tci.tif", -105.1019, 40.1672, 10.0, 1536)


def workspace(tmp_path: Path, name: str, lat: float, lon: float, radius_km: float) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    ws.put_site(circle_site(name, "airbase", lat, lon, radius_km))
    return ws


T0 = datetime(2023, 10, 1, tzinfo=UTC)
T1 = datetime(2023, 10, 15, tzinfo=UTC)


def earth_search(host: StandIn, cog: bytes, *, landing: dict[str, Any] | None = None,
                 page: dict[str, Any] | None = None) -> None:
    """The stand-in Earth Search: the real landing page and the real 2023-10-08 search page."""
    real = "https://earth-search.aws.element84.com/v1"
    land = rebase(landing or sample(f"{ES}/landing_page.json"), real, host.url + "/v1")
    pg = copy.deepcopy(page or sample(f"{ES}/search_s2l2a_landsat_point_2023-10-08.json"))
    for f in pg["features"]:
        if isinstance(f, dict) and "visual" in (f.get("assets") or {}):
            f["assets"]["visual"]["href"] = f"{host.url}/cogs/{f['id']}/TCI.tif"
    pg = rebase(pg, real, host.url + "/v1")
    empty = rebase(sample(f"{ES}/search_empty_page.json"), real, host.url + "/v1")

    def search(req: Req) -> tuple[int, dict[str, str], bytes]:
        doc = empty if isinstance(req.body, dict) and "next" in req.body else pg  # page 2 (its next link) is empty
        return 200, {"Content-Type": "application/geo+json"}, json.dumps(doc).encode()

    host.routes.update({"/v1": as_json(land), "/v1/search": search,
                        "/cogs/S2A_13TDE_20231008_0_L2A/TCI.tif": cog})


# -- tests -------------------------------------------------------------------------------------------
def test_earth_search_uses_query_not_filter_and_reads_only_the_window(host: StandIn, tmp_path: Path,
                                                                         boulder_cog: bytes) -> None:
    earth_search(host, boulder_cog)
    ws = workspace(tmp_path, "boulder", 40.1672, -105.1019, 2.0)
    src = get("imagery", "earth-search-s2").configured(host.url + "/v1", http=FAST)
    res = fetch(ws, src, ws.site("boulder"), T0, T1, max_cloud=30)
    body = host.of("/v1/search")[0].body
    # Earth Search advertises query, not filter: the cloud limit travels as `query`
    assert body["query"] == {"eo:cloud_cover": {"lte": 30}} and "filter" not in body
    assert body["collections"] == ["sentinel-2-l2a"] and body["datetime"] == "2023-10-01T00:00:00Z/2023-10-15T00:00:00Z"
    assert res.search["cloud_by"] == "query" and res.search["dropped"] == {"another collection": 1}  # the Landsat item
    [s] = res.scenes
    assert s.status == "new" and s.item == "S2A_13TDE_20231008_0_L2A" and s.cloud_cover == pytest.approx(0.000299)
    assert s.gsd_m == pytest.approx(10.0, rel=0.01) and s.window_px is not None and max(s.window_px) <= 420
    # the GSD gate: 10 m shows ships and large aircraft, not vehicles; the built-in detector counts none
    assert s.gate["shows"] == ["plane", "helicopter", "ship"] and s.gate["countable"] == []
    assert "aircraft ≥ 40 m" in s.gate["says"] and "ships ≥ 40 m" in s.gate["says"]
    assert "not large vehicles" in s.gate["says"] and "by eye" in s.gate["says"]
    served = host.served_bytes["/cogs/S2A_13TDE_20231008_0_L2A/TCI.tif"]
    assert served < len(boulder_cog) / 4, (served, len(boulder_cog))  # range requests: the window's tiles only
    cog_reqs = host.of("/cogs/S2A_13TDE_20231008_0_L2A/TCI.tif")
    assert all("Range" in r.headers for r in cog_reqs if r.method == "GET")
    row = ws.store.rows("SELECT scene_id, site, t_utc, provider, gsd_m, meta FROM scenes")[0]
    meta = json.loads(row["meta"])
    assert row["site"] == "boulder" and row["t_utc"] == datetime(2023, 10, 8, 18, 2, 55, 276000, tzinfo=UTC)
    assert row["provider"] == "sentinel-2a via Sentinel-2 L2A (Copernicus/ESA) via Earth Search"
    assert meta["tags"]["SITEWATCH_CLOUD_COVER"] == "0.000299"
    assert meta["tags"]["SITEWATCH_LICENCE"] == "Copernicus-Sentinel-data-terms"
    [prov] = fetched(ws.store)
    assert prov["source"] == "earth-search-s2" and prov["attribution"] == "Contains modified Copernicus Sentinel data 2023"
    assert prov["files"][0]["url"].endswith("/TCI.tif") and len(prov["files"][0]["sha256"]) == 64
    assert sources(ws.store)[0]["licence"] == "Copernicus-Sentinel-data-terms"
    # again: the window is on disk and the scene stored; nothing is read twice
    host.served_bytes.clear()
    again = fetch(ws, src, ws.site("boulder"), T0, T1, max_cloud=30)
    assert [x.status for x in again.scenes] == ["known"] and not host.served_bytes
    assert ws.store.count("scenes") == 1
    ws.close()


def test_filter_is_sent_only_where_advertised(host: StandIn) -> None:
    land = sample(f"{ES}/landing_page.json")
    with_filter = Api("x", (*land["conformsTo"], "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter"), "x")
    only_filter = Api("x", ("https://api.stacspec.org/v1.0.0/item-search",
                            "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter"), "x")
    neither = Api("x", ("https://api.stacspec.org/v1.0.0/item-search",), "x")
    bbox = (0.0, 0.0, 1.0, 1.0)
    assert search_body(with_filter, ["c"], bbox, T0, T1, 20, 10)["query"]  # query preferred when both
    b = search_body(only_filter, ["c"], bbox, T0, T1, 20, 10)
    assert b["filter"] == {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 20]} and b["filter-lang"] == "cql2-json"
    b = search_body(neither, ["c"], bbox, T0, T1, 20, 10)
    assert "filter" not in b and "query" not in b  # checked on every item instead


def test_paging_follows_next_links_as_recorded(host: StandIn, tmp_path: Path) -> None:
    """The real cql2 pages: page 2 is asked with exactly the next link's body (merge false); the
    items (S1 GRD, L1C, c1-l2a …) are other collections or elsewhere, none kept."""
    real = "https://earth-search.aws.element84.com/v1"
    pages = iter([sample(f"{ES}/search_cql2_cloudcover_page1.json"), sample(f"{ES}/search_cql2_cloudcover_page2.json"),
                  sample(f"{ES}/search_empty_page.json")])
    host.routes.update({"/v1": as_json(rebase(sample(f"{ES}/landing_page.json"), real, host.url + "/v1")),
                        "/v1/search": lambda req: (200, {}, json.dumps(rebase(next(pages), real,
                                                                              host.url + "/v1")).encode())})
    ws = workspace(tmp_path, "hmeimim", 35.4, 35.95, 6.0)
    src = get("imagery", "earth-search-s2").configured(host.url + "/v1", http=FAST)
    res = fetch(ws, src, ws.site("hmeimim"), datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 8, 1, tzinfo=UTC))
    bodies = [r.body for r in host.of("/v1/search")]
    assert len(bodies) == 3 and bodies[1] == {"next": "2025-07-31T13:03:25.899000Z,S2B_T24MVV_20250731T130245_L2A,"
                                                       "sentinel-2-c1-l2a"}
    assert bodies[2] == {"next": "2025-07-31T13:03:19.635000Z,S2B_24MUA_20250731_0_L2A,sentinel-2-l2a"}
    assert res.scenes == [] and res.search["matched"] == 115912757
    assert res.search["dropped"]["another collection"] == 14 and res.search["dropped"]["footprint misses the site"] == 6
    ws.close()


@pytest.mark.parametrize("fault", ["429", "503", "stall", "cut", "badjson"])
def test_catalogue_faults_are_retried(host: StandIn, tmp_path: Path, boulder_cog: bytes, fault: str) -> None:
    earth_search(host, boulder_cog)
    host.faults["/v1/search"] = [fault]
    ws = workspace(tmp_path, "boulder", 40.1672, -105.1019, 2.0)
    src = get("imagery", "earth-search-s2").configured(host.url + "/v1", http=FAST)
    res = fetch(ws, src, ws.site("boulder"), T0, T1)
    assert [s.status for s in res.scenes] == ["new"]
    assert len(host.of("/v1/search")) >= 2  # asked again
    ws.close()


def test_bad_json_that_stays_bad_is_an_error_naming_it(host: StandIn) -> None:
    host.routes["/doc"] = lambda req: (200, {}, b"<html>maintenance</html>")
    with pytest.raises(NotJson, match=r"not JSON.*begins '<html>maintenance"):
        fetch_json(host.url + "/doc", FAST)
    assert len(host.of("/doc")) == 3
    host.faults["/x"] = ["503"] * 10
    host.routes["/x"] = as_json({})
    with pytest.raises(FetchError, match="HTTP 503 after 4 retries"):
        fetch_json(host.url + "/x", FAST)


@pytest.mark.parametrize("fault", ["503", "cut", "429"])
def test_cog_faults_then_the_same_pixels(host: StandIn, tmp_path: Path, boulder_cog: bytes, fault: str) -> None:
    import rasterio

    earth_search(host, boulder_cog)
    host.faults["/cogs/S2A_13TDE_20231008_0_L2A/TCI.tif"] = [None, fault, fault]  # type: ignore[list-item]
    ws = workspace(tmp_path, "boulder", 40.1672, -105.1019, 2.0)
    src = get("imagery", "earth-search-s2").configured(host.url + "/v1", http=FAST)
    [s] = fetch(ws, src, ws.site("boulder"), T0, T1).scenes
    assert s.status == "new", s.reason
    path = ws.store.rows("SELECT path FROM scenes")[0]["path"]
    ref = tmp_path / "ref.tif"
    ref.write_bytes(boulder_cog)
    with rasterio.open(path) as got, rasterio.open(ref) as full:
        win = rasterio.windows.from_bounds(*got.bounds, full.transform)
        assert np.array_equal(got.read(), full.read(window=win.round_offsets().round_lengths()))
    ws.close()


def test_an_interrupted_window_is_read_again_and_unknown_fields_are_tolerated(host: StandIn, tmp_path: Path,
                                                                               boulder_cog: bytes) -> None:
    page = sample(f"{ES}/search_s2l2a_landsat_point_2023-10-08.json")
    for f in page["features"]:
        f["x-new-field"] = {"nested": [1, 2, 3]}
        f["properties"]["vendor:unknown"] = "tolerated"
    land = {**sample(f"{ES}/landing_page.json"), "x-extension": True}
    earth_search(host, boulder_cog, landing=land, page=page)
    ws = workspace(tmp_path, "boulder", 40.1672, -105.1019, 2.0)
    part = ws.folder / "imagery" / "earth-search-s2" / "boulder" / "S2A_13TDE_20231008_0_L2A.visual.tif.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"II*\x00 cut short by a killed run")
    src = get("imagery", "earth-search-s2").configured(host.url + "/v1", http=FAST)
    [s] = fetch(ws, src, ws.site("boulder"), T0, T1).scenes
    assert s.status == "new" and not part.exists() and part.with_suffix("").is_file()
    # a damaged window on disk (not ours to trust): failed once, deleted, read again the next time
    ws.store.sql("DELETE FROM scenes")
    ws.store.sql("DELETE FROM ingest_log")
    part.with_suffix("").write_bytes(b"II*\x00 damaged")
    [s] = fetch(ws, src, ws.site("boulder"), T0, T1).scenes
    assert s.status == "failed" and not part.with_suffix("").exists()
    [s] = fetch(ws, src, ws.site("boulder"), T0, T1).scenes
    assert s.status == "new", s.reason
    ws.close()


def test_items_missing_fields_are_quarantined_once(host: StandIn, tmp_path: Path, boulder_cog: bytes) -> None:
    page = sample(f"{ES}/search_s2l2a_landsat_point_2023-10-08.json")
    good = next(f for f in page["features"] if f["collection"] == "sentinel-2-l2a")
    no_time = copy.deepcopy(good)
    no_time["id"] = "NO_TIME"
    del no_time["properties"]["datetime"]
    no_visual = copy.deepcopy(good)
    no_visual["id"] = "NO_VISUAL"
    del no_visual["assets"]["visual"]
    no_where = copy.deepcopy(good)
    no_where["id"] = "NO_GEOMETRY"
    del no_where["geometry"], no_where["bbox"]
    page["features"] = [good, no_time, no_visual, no_where, "not an item"]
    ws = workspace(tmp_path, "boulder", 40.1672, -105.1019, 2.0)
    src = get("imagery", "earth-search-s2").configured(host.url + "/v1", http=FAST)
    for run in range(2):
        host.routes.clear()
        earth_search(host, boulder_cog, page=page)
        res = fetch(ws, src, ws.site("boulder"), T0, T1)
        assert [s.item for s in res.scenes] == ["S2A_13TDE_20231008_0_L2A"]
        assert res.quarantined == (4 if run == 0 else 0)  # the same bad items again: not quarantined twice
    reasons = sorted(r["reason"] for r in ws.store.rows("SELECT reason FROM quarantine"))
    assert len(reasons) == 4
    assert "item NO_TIME: missing properties.datetime (and start_datetime)" in reasons
    assert any(r.startswith("item NO_VISUAL: no asset visual (has: aot, aot-jp2") for r in reasons)
    assert "item NO_GEOMETRY: missing geometry and bbox" in reasons
    assert "item ?: not a JSON object" in reasons
    offsets = sorted(r["rec_offset"] for r in ws.store.rows("SELECT rec_offset FROM quarantine"))
    assert offsets == [1, 2, 3, 4]
    ws.close()


def test_cdse_needs_credentials_and_never_shows_the_token(host: StandIn, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    item = sample(f"{CDSE}/item_sentinel-2-l2a_S2A_MSIL2A_20220217T183431.json")
    zipper = "https://zipper.dataspace.copernicus.eu"
    item = rebase(item, zipper, host.url + "/zipper")
    tci_path = item["assets"]["TCI_10m"]["alternate"]["https"]["href"][len(host.url):]
    cog = build_cog(tmp_path / "cdse.tif", -104.0, 62.6, 10.0, 1024)
    landing = {"type": "Catalog", "id": "cdse-stac", "stac_version": "1.1.0", "description": "stand-in",
               "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search",
                              "https://api.stacspec.org/v1.0.0/item-search#query",
                              "https://api.stacspec.org/v1.0.0/item-search#filter"],
               "links": [{"rel": "search", "href": host.url + "/stac/search", "method": "POST"}]}
    token_seen: list[str] = []

    def asset(req: Req) -> tuple[int, dict[str, str], bytes]:
        token_seen.append(req.headers.get("Authorization", ""))
        return 403, {}, b""

    host.routes.update({"/stac": as_json(landing), "/stac/search": as_json(
        {"type": "FeatureCollection", "features": [item], "links": []})})
    for k in ("CDSE_S3_ACCESS_KEY", "CDSE_S3_SECRET_KEY", "CDSE_TOKEN", "CDSE_USERNAME", "CDSE_PASSWORD"):
        monkeypatch.delenv(k, raising=False)
    ws = workspace(tmp_path, "yellowknife", 62.6, -104.0, 1.5)
    src = get("imagery", "cdse-s2").configured(host.url + "/stac", http=FAST)
    t0, t1 = datetime(2022, 2, 1, tzinfo=UTC), datetime(2022, 3, 1, tzinfo=UTC)
    [s] = fetch(ws, src, ws.site("yellowknife"), t0, t1, max_cloud=50).scenes
    assert s.status == "skipped" and "CDSE_S3_ACCESS_KEY" in (s.reason or "") and "CDSE_TOKEN" in (s.reason or "")
    body = host.of("/stac/search")[0].body
    assert body["query"] == {"eo:cloud_cover": {"lte": 50}}  # both advertised: query
    # with a token: the https alternate, Bearer header, the window read
    secret = "tok-SECRET-1234567890"
    monkeypatch.setenv("CDSE_TOKEN", secret)
    host.routes[tci_path] = cog
    [s] = fetch(ws, src, ws.site("yellowknife"), t0, t1, max_cloud=50).scenes
    assert s.status == "new", s.reason
    gets = [r for r in host.requests if r.path.startswith("/zipper")]
    assert gets and all(r.headers.get("Authorization") == f"Bearer {secret}" for r in gets)
    assert s.gate["countable"] == []
    # the token is nowhere: output, status, database, files of the workspace
    out = capsys.readouterr()
    assert secret not in out.out + out.err + json.dumps(s.as_json(), default=str)
    dump = "".join(str(r) for t in ("ingest_log", "scenes", "quarantine") for r in ws.store.rows(f"SELECT * FROM {t}"))
    assert secret not in dump
    # refused (403): skipped, saying credentials are needed
    host.routes[tci_path] = asset
    for f in (ws.folder / "imagery").rglob("*.tif"):
        f.unlink()
    [s] = fetch(ws, src, ws.site("yellowknife"), t0, t1, max_cloud=50).scenes
    assert s.status == "skipped" and "refused (HTTP 403)" in (s.reason or "") and token_seen
    ws.close()


def test_maxar_static_catalogue_is_walked_and_pruned(host: StandIn, tmp_path: Path) -> None:
    fc = sample(f"{MAXAR}/Kahramanmaras-turkey-earthquake-23_10300100E20A6300.geojson")
    event = "Kahramanmaras-turkey-earthquake-23"
    cog = build_cog(tmp_path / "mx.tif", 36.31, 35.895, 0.5, 2048)
    base = f"{host.url}/events"
    items = []
    for f in fc["features"]:
        p = dict(f["properties"])
        assets = {k: {"href": p.pop(k), "type": "image/tiff; application=geotiff; profile=cloud-optimized"}
                  for k in ("visual", "ms_analytic", "pan_analytic") if k in p}
        p.pop("data-mask", None)
        iid = f"{p['quadkey']}-{p['catalog_id']}"
        items.append({"type": "Feature", "stac_version": "1.0.0", "id": iid, "geometry": f["geometry"],
                      "properties": p, "links": [], "assets": assets})
    for it in items:
        real = it["assets"]["visual"]["href"]
        local = real.replace("https://maxar-opendata.s3.amazonaws.com/events", base)
        it["assets"]["visual"]["href"] = local
        host.routes[local[len(host.url):]] = cog
        host.routes[f"/events/{event}/ard/{it['id']}.json"] = as_json(it)
    acq = {"type": "Collection", "id": "10300100E20A6300", "stac_version": "1.0.0",
           "extent": {"spatial": {"bbox": [[36.28, 35.88, 36.40, 35.92]]},
                      "temporal": {"interval": [["2023-02-28T08:29:12Z", "2023-02-28T08:29:12Z"]]}},
           "links": [{"rel": "item", "href": f"./{it['id']}.json"} for it in items]}
    ev = {"type": "Collection", "id": event, "stac_version": "1.0.0",
          "extent": {"spatial": {"bbox": [[35.0, 35.0, 39.0, 39.0]]}, "temporal": {"interval": [[None, None]]}},
          "links": [{"rel": "child", "href": "./ard/acquisition.json"}]}
    far = {"type": "Collection", "id": "Hurricane-Ian-9-26-2022", "stac_version": "1.0.0",
           "extent": {"spatial": {"bbox": [[-83, 25, -80, 28]]}, "temporal": {"interval": [[None, None]]}},
           "links": [{"rel": "child", "href": "./ard/never.json"}]}
    root = {"type": "Catalog", "id": "maxar", "stac_version": "1.0.0",
            "links": [{"rel": "child", "href": f"./{event}/collection.json"},
                      {"rel": "child", "href": "./Hurricane-Ian-9-26-2022/collection.json"}]}
    host.routes.update({"/events/catalog.json": as_json(root), f"/events/{event}/collection.json": as_json(ev),
                        f"/events/{event}/ard/acquisition.json": as_json(acq),
                        "/events/Hurricane-Ian-9-26-2022/collection.json": as_json(far)})
    ws = workspace(tmp_path, "harim", 35.895, 36.31, 0.3)
    src = get("imagery", "maxar").configured(base + "/catalog.json", http=FAST)
    t0, t1 = datetime(2023, 2, 20, tzinfo=UTC), datetime(2023, 3, 5, tzinfo=UTC)
    res = fetch(ws, src, ws.site("harim"), t0, t1, coreg=False)
    assert not host.of("/events/Hurricane-Ian-9-26-2022/ard/never.json")  # pruned by its extent
    kept = [s for s in res.scenes if s.status == "new"]
    assert [s.item for s in kept] == ["031133201311-10300100E20A6300"]  # the only tile over the site
    s = kept[0]
    assert s.gsd_m == pytest.approx(0.5, rel=0.02) and s.cloud_cover == 0
    assert s.gate["countable"] == ["plane", "helicopter", "ship", "large-vehicle", "small-vehicle"]
    assert s.licence == "CC-BY-NC-4.0"
    prov = fetched(ws.store)[0]
    assert prov["attribution"].startswith("Imagery © 2023 Maxar Technologies") and prov["licence"] == "CC-BY-NC-4.0"
    # with --collection the walk starts at the event
    host.requests.clear()
    ev_src = get("imagery", "maxar").configured(base + "/catalog.json", event, http=FAST)
    fetch(ws, ev_src, ws.site("harim"), t0, t1, coreg=False)
    assert not host.of("/events/catalog.json") and host.of(f"/events/{event}/collection.json")
    ws.close()


def test_planet_activation_then_read_and_the_key_never_shows(host: StandIn, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    key = "PLAK-secret-key-0123456789"
    monkeypatch.setenv("PL_API_KEY", key)
    real = "https://api.planet.com/data/v1"
    items = [rebase(sample(f"{PLANET}/{n}.json"), real, host.url + "/data/v1") for n in (
        "data_item_20220125_075509_67_1061", "data_item_20220125_075511_17_1061", "data_item_20220125_075650_17_1061")]
    cog = build_cog(tmp_path / "pl.tif", 46.93, 8.36, 3.0, 1024)
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    state = {"status": "inactive"}
    seen_auth: list[str] = []
    ranges: list[Any] = []

    def quick(req: Req) -> tuple[int, dict[str, str], bytes]:
        seen_auth.append(req.headers.get("Authorization", ""))
        assert req.body["item_types"] == ["PSScene"]
        kinds = [c["type"] for c in req.body["filter"]["config"]]
        assert kinds[:3] == ["GeometryFilter", "DateRangeFilter", "PermissionFilter"]
        ranges.append([c["config"] for c in req.body["filter"]["config"] if c["type"] == "RangeFilter"])
        return 200, {}, json.dumps({"type": "FeatureCollection", "features": items,
                                    "_links": {"_self": host.url + "/data/v1/quick-search"}}).encode()

    def assets(req: Req) -> tuple[int, dict[str, str], bytes]:
        if req.headers.get("Authorization") != auth:
            return 401, {}, b'{"message": "Please enter your API key"}'
        link = f"{host.url}/data/v1/activate/{req.path.split('/')[-3]}"
        a: dict[str, Any] = {"status": state["status"], "type": "ortho_visual", "_links": {"activate": link}}
        if state["status"] == "active":
            a["location"] = f"{host.url}/download/pl.tif?token=SIGNED-{key[-4:]}-jwt"
        return 200, {}, json.dumps({"ortho_visual": a}).encode()

    def activate(req: Req) -> tuple[int, dict[str, str], bytes]:
        state["status"] = "activating"
        return 202, {}, b""

    host.routes.update({"/data/v1/quick-search": quick, "/data/v1/item-types/": assets,
                        "/data/v1/activate/": activate, "/download/pl.tif": cog})
    ws = workspace(tmp_path, "berbera", 8.36, 46.93, 1.0)
    src = get("imagery", "planet").configured(host.url + "/data/v1", http=FAST)
    t0, t1 = datetime(2022, 1, 20, tzinfo=UTC), datetime(2022, 2, 1, tzinfo=UTC)
    res = fetch(ws, src, ws.site("berbera"), t0, t1, max_cloud=10)
    assert [s.status for s in res.scenes] == ["pending", "pending"]  # two items over the site, both being prepared
    assert "activation requested" in (res.scenes[0].reason or "")
    assert res.search["dropped"] == {"footprint misses the site": 1}
    state["status"] = "active"
    res = fetch(ws, src, ws.site("berbera"), t0, t1, max_cloud=10)
    assert [s.status for s in res.scenes] == ["new", "new"] and res.scenes[0].provider == "Planet PSScene"
    assert res.scenes[0].gsd_m == pytest.approx(3.0, rel=0.02) and res.scenes[0].gate["countable"] == ["plane"]
    assert res.scenes[0].gate["from_m"] == {"plane": pytest.approx(36.0, abs=1.0)}  # aircraft from 12 px up
    assert set(seen_auth) == {auth} and ranges[0] == [{"lte": 0.1}]  # Planet's cloud_cover is a fraction
    out = capsys.readouterr()
    blob = out.out + out.err + json.dumps([s.as_json() for s in res.scenes], default=str)
    blob += "".join(str(r) for t in ("ingest_log", "scenes") for r in ws.store.rows(f"SELECT * FROM {t}"))
    assert key not in blob and "SIGNED" not in blob  # no key, no signed query string
    monkeypatch.delenv("PL_API_KEY")
    with pytest.raises(InputError, match="PL_API_KEY"):
        fetch(ws, src, ws.site("berbera"), t0, t1)
    # another variable named in sitewatch.toml (the key itself never is)
    ws.config["settings"]["keys"] = {"planet": "env:MY_PLANET_KEY"}
    ws.save()
    monkeypatch.setenv("MY_PLANET_KEY", key)
    assert [s.status for s in fetch(ws, src, ws.site("berbera"), t0, t1).scenes] == ["known", "known"]
    assert key not in (ws.folder / "sitewatch.toml").read_text()
    ws.close()


def test_gate_follows_the_pipeline() -> None:
    from sitewatch.detect.gate import detector_gate
    from sitewatch.fusion.evidence import resolvable

    classes = ("plane", "helicopter", "ship", "large-vehicle", "small-vehicle")
    for g in (0.3, 0.5, 1.0, 1.9, 3.0, 10.0):
        got = gate(g)
        assert got["shows"] == [c for c in classes if resolvable(c, g)]  # the scene rule evidence applies
        assert got["countable"] == [c for c in classes if detector_gate(c, g).countable]
    assert gate(0.5)["countable"] == list(classes) and "the detector (yolov8-obb) counts them" in gate(0.5)["says"]
    assert gate(1.0)["countable"] == ["plane", "helicopter", "ship"]  # vehicles: measured recall 0.11 at 1 m


def test_cli_fetch_imagery(host: StandIn, tmp_path: Path, boulder_cog: bytes,
                           capsys: pytest.CaptureFixture[str]) -> None:
    earth_search(host, boulder_cog)
    ws = workspace(tmp_path, "boulder", 40.1672, -105.1019, 2.0)
    folder = str(ws.folder)
    ws.close()
    rc = main(["-w", folder, "fetch", "imagery", "--preset", "earth-search-s2", "--stac", host.url + "/v1",
               "--site", "boulder", "--from", "2023-10-01", "--to", "2023-10-15", "--max-cloud", "30"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    lines = [json.loads(x) for x in out.out.splitlines()]
    assert lines[0]["status"] == "new" and lines[0]["countable"] == [] and lines[0]["licence"]
    assert lines[0]["shows"] == ["plane", "helicopter", "ship"]
    assert lines[-1]["summary"] and lines[-1]["new"] == 1 and lines[-1]["search"]["cloud_by"] == "query"
    assert "it shows aircraft ≥ 40 m" in out.err and "counts none of them" in out.err
    assert main(["fetch", "--help"]) == 0
    helptext = capsys.readouterr().out
    assert "watch source add s2 earth-search-s2 --site hmeimim" in helptext and "imagery" in helptext
    assert main(["-w", folder, "fetch", "imagery", "--site", "boulder"]) == 2
    assert "give --preset NAME" in capsys.readouterr().err


# -- live (real services; only with SITEWATCH_LIVE=1) ------------------------------------------------
live = pytest.mark.skipif(os.environ.get("SITEWATCH_LIVE") != "1",
                          reason="calls the real Earth Search; run with SITEWATCH_LIVE=1 pytest -m live")


@pytest.mark.live
@live
def test_live_earth_search_hmeimim(tmp_path: Path) -> None:
    from sitewatch.sites import from_airport

    ws = Workspace.init(tmp_path / "ws")
    ws.put_site(from_airport("hmeimim", "OSLK", 2.0))
    src = get("imagery", "earth-search-s2").configured(http=HttpOptions(timeout_s=60, retries=3))
    res = fetch(ws, src, ws.site("hmeimim"), datetime(2024, 12, 1, tzinfo=UTC), datetime(2024, 12, 20, tzinfo=UTC),
                max_cloud=20, limit=1, coreg=False)
    assert res.search["cloud_by"] == "query"
    assert res.scenes and res.scenes[0].status == "new" and res.scenes[0].gsd_m == pytest.approx(10, rel=0.05)
    ws.close()


def test_a_gcp_only_asset_is_warped_to_the_site_utm_zone(host: StandIn, tmp_path: Path) -> None:
    """Sentinel-1 GRD comes in radar geometry with ground control points, no geotransform."""
    import rasterio
    from rasterio.control import GroundControlPoint as GCP
    from rasterio.crs import CRS

    from sitewatch.acquire._cog import read_window

    src = tmp_path / "grd.tif"
    gcps = [GCP(0, 0, 35.80, 35.55), GCP(0, 2000, 35.80, 35.25), GCP(2000, 0, 36.10, 35.55),
            GCP(2000, 2000, 36.10, 35.25)]
    with rasterio.open(src, "w", driver="GTiff", width=2000, height=2000, count=1, dtype="uint16", tiled=True,
                       blockxsize=256, blockysize=256, compress="deflate") as d:
        d.gcps = (gcps, CRS.from_epsg(4326))
        d.write((np.arange(4_000_000, dtype=np.uint32) % 50_000 + 1).astype("uint16").reshape(1, 2000, 2000))
    host.routes["/grd.tif"] = src.read_bytes()
    site = circle_site("hmeimim", "airbase", 35.4011, 35.9486, 3.0)
    from sitewatch.acquire._imagery import site_bbox

    w = read_window(host.url + "/grd.tif", site_bbox(site), tmp_path / "win.tif",
                    when=datetime(2024, 6, 7, 0, 6, 53, tzinfo=UTC), http=FAST)
    assert w.crs == "EPSG:32636" and 10 < w.gsd_m < 25 and w.valid_fraction > 0.9
    with rasterio.open(w.path) as got:
        assert got.tags(ns="IMAGERY")["ACQUISITIONDATETIME"].startswith("2024-06-07T00:06:53")
        assert got.read(1).max() > 0
