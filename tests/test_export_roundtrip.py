"""Every export opened with the reader a user would open it with: DuckDB, pandas, geopandas,
GDAL/OGR (``ogrinfo`` from Debian's gdal-bin) and the OGC KML 2.2 + gx schemas (the XSDs
that the pykml package ships; never downloaded). Readers that are absent skip with a reason.

The workspace holds a few hand-made events whose right rendering is known: an airborne
dark gap (sub-second time, a track with altitudes, one report without altitude), an arrival
placed on the runway while the aircraft is still 3 km out on final (drawn on the ground),
a vessel departure with an AIS track (no altitude: clamped to the ground) and an event
without a location.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sitewatch.analytics.base import events_table, position_ref
from sitewatch.cli import main
from sitewatch.fusion.export import EVENT_COLUMNS, EVIDENCE_COLUMNS, FT_TO_M
from sitewatch.store import events as EVQ
from sitewatch.workspace import Workspace
from test_fusion_scenario import LAT, LON, hmeimim

KML = "{http://www.opengis.net/kml/2.2}"
GX = "{http://www.google.com/kml/ext/2.2}"
T_GAP = datetime(2024, 12, 13, 21, 0, 5, 250000, tzinfo=UTC)  # a fraction of a second
T_ARR = datetime(2024, 12, 13, 22, 0, 0, tzinfo=UTC)  # whole seconds
T_SHIP = datetime(2024, 12, 12, 5, 0, 0, tzinfo=UTC)
GAP_ALTS_FT = [12000.0, 11500.0, None, 11000.0, 10500.0]
FORMATS = ("geojson", "kml", "csv", "parquet", "geoparquet")


@dataclass
class Exported:
    folder: Path
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def path(self, name: str) -> Path:
        return self.folder / name


def _positions() -> list[dict[str, Any]]:
    gap = [{"t_utc": T_GAP + timedelta(seconds=10 * i), "source": "adsb", "id": "151a09", "lat": 35.30 + i / 100,
            "lon": 35.95, "alt_ft": a, "onground": False} for i, a in enumerate(GAP_ALTS_FT)]
    final = [{"t_utc": T_ARR, "source": "adsb", "id": "151a10", "lat": LAT - 0.03, "lon": LON, "alt_ft": 800.0,
              "onground": False}]
    ship = [{"t_utc": T_SHIP + timedelta(minutes=10 * i), "source": "ais", "id": "273300001",
             "lat": 35.13 - i / 50, "lon": 35.90 - i / 50} for i in range(3)]
    return gap + final + ship


def _events() -> list[dict[str, Any]]:
    base = {"site": "hmeimim", "confidence": 0.9, "analysis": "test"}
    return [
        {**base, "kind": "dark-gap", "t_start": T_GAP, "t_end": T_GAP + timedelta(minutes=30), "subject": "151a09",
         "subject_kind": "aircraft", "lat": 35.30, "lon": 35.95, "summary": "151a09 unheard at 12,000 ft",
         "details": {"lost": {"alt_ft": 12000.0}},
         "evidence": [position_ref("adsb", "151a09", T_GAP, T_GAP + timedelta(seconds=40), "last-before")]},
        {**base, "kind": "arrival", "t_start": T_ARR, "t_end": T_ARR + timedelta(seconds=50), "subject": "151a10",
         "subject_kind": "aircraft", "lat": LAT, "lon": LON, "summary": "151a10 landed", "details": {},
         "evidence": [position_ref("adsb", "151a10", T_ARR)]},
        {**base, "kind": "vessel-departure", "t_start": T_SHIP, "t_end": T_SHIP + timedelta(minutes=20),
         "subject": "273300001", "subject_kind": "vessel", "lat": 35.13, "lon": 35.90, "summary": "left port",
         "details": {}, "evidence": [position_ref("ais", "273300001", T_SHIP, T_SHIP + timedelta(minutes=20))]},
        {**base, "kind": "dark-gap", "t_start": T_ARR, "t_end": None, "subject": "151a11", "subject_kind": "aircraft",
         "lat": None, "lon": None, "summary": "no fix", "details": {}, "evidence": []},
    ]


def _cli(*argv: str) -> dict[str, Any]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(list(argv))
    assert code == 0, buf.getvalue()
    return dict(json.loads(buf.getvalue().strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    root = tmp_path_factory.mktemp("exports")
    ws = Workspace.init(root / "ws")
    ws.put_site(hmeimim())
    ws.store.insert("positions", pa.Table.from_pylist(_positions()))
    ws.store.insert("events", events_table(_events(), "test"))
    ex = Exported(root / "out", events=EVQ.list_events(ws.store, "hmeimim"))
    ws.close()
    w = str(root / "ws")
    for what in ("events", "evidence"):
        for fmt in FORMATS:
            name = f"{what}.{fmt}"
            ex.summaries[name] = _cli("-w", w, "export", what, "--format", fmt, "--out", str(ex.path(name)),
                                      "--site", "hmeimim")
    ex.summaries["split"] = _cli("-w", w, "export", "events", "--format", "geojson", "--layers", "split",
                                 "--out", str(ex.path("split.geojson")))
    for fmt in ("csv", "parquet", "geoparquet"):
        ex.summaries[f"positions.{fmt}"] = _cli("-q", "-w", w, "export", "positions", "--format", fmt, "--out",
                                                str(ex.path(f"positions.{fmt}")))
    return ex


def _ogrinfo(*args: str) -> str:
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.skip("ogrinfo not installed (Debian: apt-get install gdal-bin)")
    return subprocess.run([exe, "-ro", *args], check=True, capture_output=True, text=True, timeout=120).stdout


def _ogr_fields(text: str) -> dict[str, str]:
    """``name: Type (w.p)`` lines of ``ogrinfo -so`` → {name: Type}."""
    out = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(": ")
        if sep and not line.startswith(" ") and rest.endswith(")") and " (" in rest:
            out[name] = rest.split(" (")[0]
    return out


def _ogr_driver(name: str) -> None:
    if name not in _ogrinfo("--formats"):
        pytest.skip(f"this GDAL has no {name} driver")


# -- CSV -------------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["events", "evidence", "positions"])
def test_csv_times_are_timestamps_for_duckdb_and_pandas(exported: Exported, what: str) -> None:
    pd = pytest.importorskip("pandas", reason="pandas not installed (pip install -e '.[test]')")

    csv_path, pq_path = exported.path(f"{what}.csv"), exported.path(f"{what}.parquet")
    times = ["t_utc"] if what == "positions" else ["t_start", "t_end"]
    rel = duckdb.sql(f"SELECT * FROM read_csv('{csv_path}')")
    types = dict(zip(rel.columns, (str(t) for t in rel.types), strict=True))
    assert {types[c] for c in times} == {"TIMESTAMP WITH TIME ZONE"}, types
    got = rel.select(*times).fetchall()
    want = duckdb.sql(f"SELECT {', '.join(times)} FROM read_parquet('{pq_path}')").fetchall()
    assert got == want and len(got) == pq.read_metadata(pq_path).num_rows > 0
    df = pd.read_csv(csv_path, parse_dates=times)
    for c in times:
        assert str(df[c].dtype) == "datetime64[ns, UTC]", (c, df[c].dtype)
        assert [None if pd.isna(v) else v.to_pydatetime() for v in df[c]] == [r[times.index(c)] for r in want]
    first = csv_path.read_text().splitlines()[1]
    assert ".%f" not in first and "Z" in first


def test_csv_event_times_equal_the_store(exported: Exported) -> None:
    rows = duckdb.sql(f"SELECT event_id, t_start, t_end FROM read_csv('{exported.path('events.csv')}')").fetchall()
    want = {e["event_id"]: (e["t_start"], e["t_end"]) for e in exported.events}
    assert {r[0]: (r[1], r[2]) for r in rows} == want
    assert T_GAP in {r[1] for r in rows}  # the fraction of a second survives
    text = exported.path("events.csv").read_text()
    assert "2024-12-13T21:00:05.250000Z" in text and "2024-12-13T22:00:00.000000Z" in text


@pytest.mark.parametrize("what", ["events", "evidence", "positions"])
def test_csv_times_are_datetimes_for_ogr(exported: Exported, what: str) -> None:
    fields = _ogr_fields(_ogrinfo("-al", "-so", "-oo", "AUTODETECT_TYPE=YES", str(exported.path(f"{what}.csv"))))
    times = ["t_utc"] if what == "positions" else ["t_start", "t_end"]
    assert {fields[c] for c in times} == {"DateTime"}, fields


# -- Parquet and GeoParquet ------------------------------------------------------------

@pytest.mark.parametrize("what", ["events", "evidence"])
def test_parquet_for_duckdb_and_pandas(exported: Exported, what: str) -> None:
    pd = pytest.importorskip("pandas", reason="pandas not installed (pip install -e '.[test]')")

    f = exported.path(f"{what}.parquet")
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{f}')")
    types = dict(zip(rel.columns, (str(t) for t in rel.types), strict=True))
    assert types["t_start"] == types["t_end"] == "TIMESTAMP WITH TIME ZONE"
    assert tuple(rel.columns) == (EVENT_COLUMNS if what == "events" else EVIDENCE_COLUMNS)
    df = pd.read_parquet(f)
    assert str(df["t_start"].dtype).startswith("datetime64") and str(df["t_start"].dt.tz) == "UTC"
    if what == "events":
        got = dict(rel.select("event_id", "t_start").fetchall())
        assert got == {e["event_id"]: e["t_start"] for e in exported.events}


def _geopandas() -> Any:
    return pytest.importorskip("geopandas", reason="geopandas not installed (pip install -e '.[test]')")


@pytest.mark.parametrize("name", ["events.geoparquet", "evidence.geoparquet", "positions.geoparquet"])
def test_geoparquet_crs_is_wgs84_lonlat_for_geopandas(exported: Exported, name: str) -> None:
    gpd = _geopandas()
    path = exported.path(name)
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    assert files
    for f in files:
        geo = json.loads(pq.read_schema(f).metadata[b"geo"])
        assert "crs" not in geo["columns"]["geometry"]  # missing = OGC:CRS84; null would be "unknown"
        g = gpd.read_parquet(f)
        assert g.crs is not None and g.crs.equals("EPSG:4326", ignore_axis_order=True), g.crs
        located = g[g.geometry.notna()]
        assert located.geometry.is_valid.all() and set(located.geom_type) == {"Point"}
        assert located.geometry.x.tolist() == pytest.approx(located["lon"].tolist())
        assert located.geometry.y.tolist() == pytest.approx(located["lat"].tolist())
    if name == "events.geoparquet":
        g = gpd.read_parquet(path)
        assert g.geometry.isna().sum() == 1 and len(g) == len(exported.events)  # the event without a fix


def test_geoparquet_for_ogr(exported: Exported) -> None:
    _ogr_driver("Parquet")
    text = _ogrinfo("-al", "-so", str(exported.path("events.geoparquet")))
    assert "Point" in text and ("WGS 84" in text or "CRS84" in text)


# -- GeoJSON ---------------------------------------------------------------------------

def test_geojson_summary_says_what_was_written(exported: Exported) -> None:
    s = exported.summaries["events.geojson"]
    assert {k: s[k] for k in ("records", "points", "without_location", "tracks", "features")} == {
        "records": 4, "points": 3, "without_location": 1, "tracks": 2, "features": 6}
    fc = json.loads(exported.path("events.geojson").read_text())
    assert len(fc["features"]) == s["features"] and s["files"] == [str(exported.path("events.geojson"))]
    split = exported.summaries["split"]
    assert split["files"] == [str(exported.path("split.points.geojson")), str(exported.path("split.tracks.geojson"))]
    assert not exported.path("split.geojson").exists()
    pts = json.loads(exported.path("split.points.geojson").read_text())["features"]
    lines = json.loads(exported.path("split.tracks.geojson").read_text())["features"]
    assert len(pts) == 4 and len(lines) == split["tracks"] == 2
    assert {f["geometry"]["type"] for f in pts if f["geometry"]} == {"Point"}
    assert {f["geometry"]["type"] for f in lines} == {"LineString"}


def test_geojson_layers_for_ogr_and_geopandas(exported: Exported) -> None:
    pts = _ogrinfo("-al", "-so", str(exported.path("split.points.geojson")))
    assert "Geometry: Point" in pts and "Feature Count: 4" in pts
    assert _ogr_fields(pts)["t_start"] == "DateTime" and "event_id" in _ogr_fields(pts)
    lines = _ogrinfo("-al", "-so", str(exported.path("split.tracks.geojson")))
    assert "Geometry: 3D Line String" in lines and "Feature Count: 2" in lines
    single = _ogrinfo("-al", "-so", str(exported.path("events.geojson")))
    assert "Feature Count: 6" in single
    gpd = _geopandas()
    g = gpd.read_file(exported.path("split.tracks.geojson"))
    assert g.crs.to_epsg() == 4979 and g.geometry.is_valid.all()  # WGS 84 with heights (lines carry z)
    gap = g[g["subject"] == "151a09"].geometry.iloc[0]
    assert gap.has_z and [round(c[2], 1) for c in gap.coords] == _gap_alts_m()


def _gap_alts_m() -> list[float]:
    filled, last = [], GAP_ALTS_FT[0]
    for a in GAP_ALTS_FT:
        last = a if a is not None else last
        filled.append(round(float(last) * FT_TO_M, 1))  # type: ignore[arg-type]
    return filled


# -- KML -------------------------------------------------------------------------------

def _kml(exported: Exported, what: str) -> ET.Element:
    return ET.parse(exported.path(f"{what}.kml")).getroot()


def _placemark(root: ET.Element, name_start: str) -> ET.Element:
    return next(p for p in root.iter(f"{KML}Placemark") if (p.findtext(f"{KML}name") or "").startswith(name_start))


def test_kml_altitudes_are_real(exported: Exported) -> None:
    root = _kml(exported, "events")
    s = exported.summaries["events.kml"]
    assert (s["points"], s["tracks"], s["placemarks"], s["without_location"]) == (3, 2, 5, 1)
    gap_pt = _placemark(root, "dark-gap 151a09").find(f"{KML}Point")
    assert gap_pt is not None and gap_pt.findtext(f"{KML}altitudeMode") == "absolute"
    assert gap_pt.findtext(f"{KML}coordinates") == f"35.950000,35.300000,{12000 * FT_TO_M:.1f}"
    arr = _placemark(root, "arrival 151a10").find(f"{KML}Point")
    assert arr is not None and arr.findtext(f"{KML}altitudeMode") == "clampToGround"  # on the runway, not on final
    tracks = {p.findtext(f"{KML}name"): p.find(f"{GX}Track") for p in root.iter(f"{KML}Placemark")
              if p.find(f"{GX}Track") is not None}
    air, ship = tracks["151a09 (dark-gap)"], tracks["273300001 (vessel-departure)"]
    assert air is not None and ship is not None
    assert air.findtext(f"{KML}altitudeMode") == "absolute" and ship.findtext(f"{KML}altitudeMode") == "clampToGround"
    alts = [float((c.text or "").split()[2]) for c in air.findall(f"{GX}coord")]
    assert alts == _gap_alts_m()
    assert air.findtext(f"{KML}when") == "2024-12-13T21:00:05.250000Z"


@pytest.mark.parametrize("what", ["events", "evidence"])
def test_kml_structure_and_extended_data(exported: Exported, what: str) -> None:
    """The gx:Track and ExtendedData structure, checked without any schema."""
    root = _kml(exported, what)
    cols = set(EVENT_COLUMNS if what == "events" else EVIDENCE_COLUMNS)
    points = [p for p in root.iter(f"{KML}Placemark") if p.find(f"{KML}Point") is not None]
    assert points
    for p in points:
        names = [d.get("name") for d in p.iter(f"{KML}Data")]
        assert cols <= set(names), set(names) ^ cols
        coords = (p.findtext(f".//{KML}coordinates") or "").split(",")
        assert len(coords) == 3
    for t in root.iter(f"{GX}Track"):
        whens, coords = t.findall(f"{KML}when"), t.findall(f"{GX}coord")
        assert t[0].tag == f"{KML}altitudeMode" and len(whens) == len(coords) >= 2
        assert all(len((c.text or "").split()) == 3 for c in coords)
    if what == "events":
        data = {d.get("name"): d.findtext(f"{KML}value") for d in _placemark(root, "dark-gap 151a09").iter(f"{KML}Data")}
        assert data["t_start"] == "2024-12-13T21:00:05.250000Z" and data["subject_kind"] == "aircraft"
        assert json.loads(data["details"] or "") == {"lost": {"alt_ft": 12000.0}} and data["confidence"] == "0.9"


def _kml_schema() -> Any:
    """The OGC KML 2.2 + gx XSDs as shipped by pykml (local files, no network)."""
    etree = pytest.importorskip("lxml.etree", reason="lxml not installed (pip install -e '.[test]')")
    spec = importlib.util.find_spec("pykml")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pykml (which ships the OGC KML 2.2 and gx XSDs) not installed (pip install -e '.[test]')")
    xsd = Path(next(iter(spec.submodule_search_locations))) / "schemas" / "kml22gx.xsd"
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree, parser, etree.XMLSchema(etree.parse(str(xsd), parser))


@pytest.mark.parametrize("what", ["events", "evidence"])
def test_kml_validates_against_ogc_kml22_and_gx_schemas(exported: Exported, what: str) -> None:
    etree, parser, schema = _kml_schema()
    doc = etree.parse(str(exported.path(f"{what}.kml")), parser)
    assert schema.validate(doc), [str(e) for e in schema.error_log][:5]
    # the validator is not vacuous: ExtendedData after the geometry breaks the KML element order
    mark = doc.find(f".//{KML}Placemark")
    mark.append(mark.find(f"{KML}ExtendedData"))
    assert not schema.validate(doc)


def test_kml_fields_are_attributes_for_ogr(exported: Exported) -> None:
    _ogr_driver("LIBKML")  # GDAL's other KML driver reads neither ExtendedData nor gx:Track
    text = _ogrinfo("-al", "-so", str(exported.path("events.kml")))
    assert "Layer name: tracks" in text and "Layer name: dark-gap" in text
    for f in ("event_id", "kind", "t_start", "subject", "confidence", "details", "evidence"):
        assert f in _ogr_fields(text), f
    track = _ogrinfo("-where", "subject = '151a09'", "-geom=YES", str(exported.path("events.kml")), "tracks")
    assert "LINESTRING Z (35.95 35.3 3657.6," in track
    ev = _ogrinfo("-al", "-so", str(exported.path("evidence.kml")))
    assert {"evidence_id", "sensor", "file_sha256", "ref"} <= set(_ogr_fields(ev))


def test_kml_and_layers_refuse_each_other(exported: Exported, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(exported.folder.parent / "ws")
    code = main(["-w", w, "export", "events", "--format", "kml", "--layers", "split", "--out",
                 str(exported.path("x.kml"))])
    err = capsys.readouterr().err
    assert code == 2 and "--layers split applies to --format geojson only" in err
    assert not exported.path("x.kml").exists()


def test_positions_csv_ingests_back_unchanged(exported: Exported, tmp_path: Path) -> None:
    from sitewatch.store.ingest import ingest_paths

    ws = Workspace.init(tmp_path / "ws2")
    try:
        s = ingest_paths(ws.store, "positions", [exported.path("positions.csv")])
        assert s.accepted == exported.summaries["positions.csv"]["rows"] == len(_positions())
        got = ws.store.con.execute("SELECT t_utc, id FROM positions ORDER BY t_utc, id").fetchall()
    finally:
        ws.close()
    want = duckdb.sql(f"SELECT t_utc, id FROM read_parquet('{exported.path('positions.parquet')}') "
                      "ORDER BY t_utc, id").fetchall()
    assert got == want
