"""Events and evidence out in open formats: GeoJSON, KML (Google Earth), CSV, (Geo)Parquet.

Contract: :func:`export` writes the events (``what="events"``) or evidence rows of the
workspace, optionally one site and a time window, to ``out`` atomically (``OUT.partial``
renamed when complete) and returns a summary of what it wrote: ``records`` read, and per
format the points, tracks, features or rows written and the ``files``.

* Times are ISO 8601 UTC with microseconds and a ``Z``, the same in every column and
  format (``2024-12-05T22:00:00.000000Z``): DuckDB ``read_csv``, pandas
  ``read_csv(parse_dates=…)`` and GDAL/OGR all type them as timestamps (a column that mixes
  ``…:55Z`` and ``…:55.188Z`` is left as text by pandas, so there is one form only).
* GeoJSON: each record is a Point feature (``geometry: null`` without a location) with
  every column as a property; events also get one LineString feature per referenced
  track (``role: track``; coordinates lon, lat, altitude in metres, ``times`` and
  ``alt_m`` as properties). ``layers="single"`` (the default) writes them all into one
  FeatureCollection; ``layers="split"`` writes ``NAME.points.geojson`` and
  ``NAME.tracks.geojson`` so GIS tools get one geometry type per file.
* KML 2.2 with the ``gx`` extension: one Placemark per located record in a folder per
  kind, with every field as ``ExtendedData`` (attribute tables in GIS) and a description;
  each event's positions as a ``gx:Track`` in a ``tracks`` folder. Altitudes are metres:
  aircraft (barometric altitude, ≈ above mean sea level) are ``absolute``; ships, aircraft
  on the ground and ground observations are ``clampToGround``.
* CSV / Parquet: one row per record; JSON columns kept as JSON text. GeoParquet: the
  Parquet columns plus a WKB ``geometry`` point column (lon/lat, OGC:CRS84).
Records without a location are kept in CSV/Parquet and as features with ``geometry: null``
in GeoJSON; KML, which cannot hold them, counts them in the summary.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sitewatch.errors import InputError
from sitewatch.store import events as EVQ
from sitewatch.store import evidence as EVD
from sitewatch.store import positions as POS
from sitewatch.store.db import Store
from sitewatch.store.export import csv_schema, write_batches

FORMATS = ("geojson", "kml", "csv", "parquet", "geoparquet")
LAYERS = ("single", "split")
MAX_TRACK_POINTS = 500
FT_TO_M = 0.3048
NEAR_S = 120  # a record's altitude: the subject's report nearest its start, within this many seconds …
NEAR_M = 500.0  # … and this many metres of the record's location (an arrival sits on the runway, not on final)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # Python's strftime
ARROW_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # pyarrow's %S already carries the fraction (µs for unit "us")
EVENT_COLUMNS = ("event_id", "kind", "site", "t_start", "t_end", "subject", "subject_kind", "confidence", "lat",
                 "lon", "summary", "details", "evidence", "analysis")
EVIDENCE_COLUMNS = ("evidence_id", "site", "t_start", "t_end", "kind", "value", "text", "sensor", "provider",
                    "file_sha256", "ref", "confidence", "simulated", "subject", "lat", "lon")


@dataclass(frozen=True)
class Track:
    """Positions behind one event reference, thinned; ``alts_m`` is None when none carries an altitude."""

    event_id: str
    kind: str
    subject: str | None
    source: str | None
    role: str
    times: list[datetime]
    lats: list[float]
    lons: list[float]
    alts_m: list[float] | None

    def properties(self) -> dict[str, Any]:
        return {"role": "track", "event_id": self.event_id, "kind": self.kind, "subject": self.subject,
                "source": self.source, "ref_role": self.role, "t_start": iso(self.times[0]),
                "t_end": iso(self.times[-1]), "points": len(self.times)}

    def coords(self) -> list[tuple[float, float, float]]:
        alts = self.alts_m or [0.0] * len(self.times)
        return list(zip(self.lons, self.lats, alts, strict=True))


# -- reading ---------------------------------------------------------------------------

def records(store: Store, what: str, site: str | None, t_from: datetime | None,
            t_to: datetime | None) -> list[dict[str, Any]]:
    if what == "events":
        return EVQ.list_events(store, site, None, t_from, t_to)
    if what == "evidence":
        return EVD.list_evidence(store, site, t_from, t_to)
    raise InputError(f"cannot export {what!r}; choose events or evidence")


def tracks(store: Store, rows: Sequence[dict[str, Any]]) -> list[Track]:
    """One :class:`Track` per (event, positions reference) with at least two positions."""
    meta: list[dict[str, Any]] = []
    cols: dict[str, list[Any]] = {"key": [], "source": [], "id": [], "t_from": [], "t_to": []}
    for r in rows:
        for k, ref in enumerate(r.get("evidence") or []):
            if not isinstance(ref, dict) or ref.get("table") != "positions":
                continue
            t0, t1 = _ts(ref.get("t_from")), _ts(ref.get("t_to"))
            if t0 is None or t1 is None:
                continue
            key = f"{r['event_id']}#{k}"
            meta.append({"key": key, "event_id": r["event_id"], "kind": r["kind"], "subject": ref.get("id"),
                         "source": ref.get("source"), "role": ref.get("role", "")})
            for c, v in (("key", key), ("source", ref.get("source")), ("id", str(ref.get("id"))),
                         ("t_from", t0), ("t_to", t1)):
                cols[c].append(v)
    ts = pa.timestamp("us", tz="UTC")
    refs = pa.table({"key": pa.array(cols["key"], pa.string()), "source": pa.array(cols["source"], pa.string()),
                     "id": pa.array(cols["id"], pa.string()), "t_from": pa.array(cols["t_from"], ts),
                     "t_to": pa.array(cols["t_to"], ts)})
    pts = _track_points(store, refs, MAX_TRACK_POINTS)
    out = []
    for m in meta:
        p = pts.get(m["key"], [])
        if len(p) >= 2:
            out.append(Track(m["event_id"], m["kind"], m["subject"], m["source"], m["role"],
                             [x[0] for x in p], [x[1] for x in p], [x[2] for x in p], _filled([x[3] for x in p])))
    return out


def _track_points(store: Store, refs: pa.Table, max_points: int
                  ) -> dict[str, list[tuple[datetime, float, float, float | None]]]:
    """key → thinned (t_utc, lat, lon, altitude m or None) in time order."""
    return {k: [(t, lat, lon, _metres(alt_ft)) for t, lat, lon, alt_ft in pts]
            for k, pts in POS.tracks_with_altitude(store, refs, max_points).items()}


def _metres(alt_ft: Any) -> float | None:
    return None if alt_ft is None or alt_ft != alt_ft else round(float(alt_ft) * FT_TO_M, 1)


def _filled(alts: list[float | None]) -> list[float] | None:
    """Gaps in a track's altitudes take the nearest earlier (else later) value; None if it has none."""
    known = [a for a in alts if a is not None]
    if not known:
        return None
    out: list[float] = []
    last = known[0]
    for a in alts:
        last = a if a is not None else last
        out.append(last)
    return out


def record_altitudes(store: Store, rows: Sequence[dict[str, Any]]) -> dict[int, float]:
    """Row index → altitude (m) of located aircraft records airborne where and when they start.

    The altitude is that of the subject's ADS-B report nearest ``t_start`` (within
    ``NEAR_S``); records whose nearest report is on the ground, has no altitude or lies
    more than ``NEAR_M`` from the record's location (events placed on the airfield) are
    left out, so they are drawn on the ground.
    """
    idx, ids, times = [], [], []
    for i, r in enumerate(rows):
        if _located(r) and _is_aircraft(r) and r.get("subject") and isinstance(r.get("t_start"), datetime):
            idx.append(i)
            ids.append(str(r["subject"]))
            times.append(r["t_start"])
    if not idx:
        return {}
    refs = pa.table({"key": pa.array(idx, pa.int64()), "id": pa.array(ids, pa.string()),
                     "t": pa.array(times, pa.timestamp("us", tz="UTC"))})
    found = POS.nearest_adsb(store, refs, NEAR_S)
    out: dict[int, float] = {}
    for key, near in found:
        alt, r = _metres(near["alt"]), rows[int(key)]
        if alt is not None and not near["og"] and _metres_apart(r["lat"], r["lon"], near["lat"], near["lon"]) <= NEAR_M:
            out[int(key)] = alt
    return out


def _metres_apart(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    """Equirectangular distance, good to well under 1 % at the few-km scale it is used for."""
    dy = math.radians(float(lat1) - float(lat0))
    dx = math.radians(float(lon1) - float(lon0)) * math.cos(math.radians((float(lat0) + float(lat1)) / 2))
    return 6_371_000.0 * math.hypot(dx, dy)


def _is_aircraft(r: dict[str, Any]) -> bool:
    return r.get("subject_kind") == "aircraft" or r.get("sensor") == "adsb"


def _located(r: dict[str, Any]) -> bool:
    return r.get("lat") is not None and r.get("lon") is not None


def _ts(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    if not v:
        return None
    try:
        t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# -- values as text ----------------------------------------------------------------------

def iso(v: Any) -> Any:
    """A datetime as ISO 8601 UTC with microseconds and ``Z``; anything else unchanged."""
    if isinstance(v, datetime):
        t = v if v.tzinfo else v.replace(tzinfo=UTC)
        return t.astimezone(UTC).strftime(TIME_FORMAT)
    return v


def iso_times(rb: pa.RecordBatch) -> pa.RecordBatch:
    """Timestamp columns as ISO 8601 UTC text (:data:`TIME_FORMAT`), for CSV."""
    arrays = []
    for col in rb.columns:
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col.cast(pa.timestamp("us", tz="UTC"), safe=False), format=ARROW_TIME_FORMAT)
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=rb.schema.names)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v, default=str, sort_keys=True)
    return str(iso(v))


def _props(r: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(v) for k, v in r.items()}


# -- GeoJSON -----------------------------------------------------------------------------

def point_features(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "Feature",
             "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]} if _located(r) else None,
             "properties": _props(r)} for r in rows]


def track_features(trs: Sequence[Track]) -> list[dict[str, Any]]:
    return [{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [list(c) for c in t.coords()]},
             "properties": {**t.properties(), "times": [iso(x) for x in t.times], "alt_m": t.alts_m}}
            for t in trs]


def _collection(feats: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": feats}, default=str)


def layer_paths(out: str | Path) -> tuple[Path, Path]:
    """``NAME.points.geojson`` and ``NAME.tracks.geojson`` beside ``out`` (``NAME.geojson``)."""
    p = Path(out)
    suffix = p.suffix or ".geojson"
    return p.with_name(f"{p.stem}.points{suffix}"), p.with_name(f"{p.stem}.tracks{suffix}")


def _write_geojson(store: Store, what: str, rows: Sequence[dict[str, Any]], out: str | Path,
                   layers: str) -> dict[str, Any]:
    points = point_features(rows)
    lines = track_features(tracks(store, rows)) if what == "events" else []
    if layers == "split":
        p_path, t_path = layer_paths(out)
        _atomic_text(p_path, _collection(points))
        _atomic_text(t_path, _collection(lines))
        files = [str(p_path), str(t_path)]
    else:
        _atomic_text(out, _collection(points + lines))
        files = [str(out)]
    located = sum(1 for f in points if f["geometry"] is not None)
    return {"points": located, "without_location": len(points) - located, "tracks": len(lines),
            "features": len(points) + len(lines), "files": files}


# -- KML ---------------------------------------------------------------------------------

_KML_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">\n'
             "<Document>\n<name>{name}</name>\n"
             '<Style id="track"><LineStyle><color>ff0080ff</color><width>2</width></LineStyle></Style>\n'
             '<Style id="point"><IconStyle><scale>0.8</scale></IconStyle></Style>\n')


def _extended_data(fields: dict[str, Any]) -> str:
    """Every field as ``<Data name=…><value>…</value></Data>`` (an empty value for NULL)."""
    data = "".join(f"<Data name={quoteattr(k)}><value>{'' if v is None else escape(_text(v))}</value></Data>"
                   for k, v in fields.items())
    return f"<ExtendedData>{data}</ExtendedData>"


def _kml_point(r: dict[str, Any], alt_m: float | None) -> str:
    mode = "clampToGround" if alt_m is None else "absolute"
    return (f"<Point><altitudeMode>{mode}</altitudeMode><coordinates>{float(r['lon']):.6f},{float(r['lat']):.6f},"
            f"{alt_m or 0:.1f}</coordinates></Point>")


def _placemark(r: dict[str, Any], kind: str, alt_m: float | None) -> str:
    ident = r.get("event_id") or r.get("evidence_id")
    label = r.get("summary") or r.get("text") or kind
    desc = "\n".join(f"{k}: {iso(v)}" for k, v in r.items() if k not in ("evidence", "details", "ref")
                     and v is not None)
    span = f"<begin>{iso(r['t_start'])}</begin>"
    if r.get("t_end") is not None:
        span += f"<end>{iso(r['t_end'])}</end>"
    return (f'<Placemark id="{_xml_id(str(ident))}"><name>{escape(str(kind))} {escape(str(r.get("subject") or ""))}'
            f"</name><description>{escape(str(label))}\n{escape(desc)}</description>"
            f"<TimeSpan>{span}</TimeSpan><styleUrl>#point</styleUrl>{_extended_data(r)}"
            f"{_kml_point(r, alt_m)}</Placemark>\n")


def _kml_track(t: Track) -> str:
    mode = "clampToGround" if t.alts_m is None else "absolute"
    whens = "".join(f"<when>{iso(x)}</when>" for x in t.times)
    coords = "".join(f"<gx:coord>{lon:.6f} {lat:.6f} {alt:.1f}</gx:coord>" for lon, lat, alt in t.coords())
    return (f"<Placemark><name>{escape(str(t.subject))} ({escape(t.kind)})</name>"
            f"<description>track behind event {escape(t.event_id)}</description>"
            f"<styleUrl>#track</styleUrl>{_extended_data(t.properties())}"
            f"<gx:Track><altitudeMode>{mode}</altitudeMode>{whens}{coords}</gx:Track></Placemark>\n")


def kml(store: Store, what: str, rows: Sequence[dict[str, Any]], name: str) -> tuple[str, dict[str, int]]:
    """(KML text, counts: points, tracks, placemarks, without_location)."""
    parts = [_KML_HEAD.format(name=escape(name))]
    alts = record_altitudes(store, rows)
    by_kind: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        if _located(r):
            by_kind.setdefault(str(r["kind"]), []).append(i)
    for kind, items in sorted(by_kind.items()):
        parts.append(f"<Folder><name>{escape(kind)}</name>\n")
        parts += [_placemark(rows[i], kind, alts.get(i)) for i in items]
        parts.append("</Folder>\n")
    trs = tracks(store, rows) if what == "events" else []
    if trs:
        parts.append("<Folder><name>tracks</name>\n")
        parts += [_kml_track(t) for t in trs]
        parts.append("</Folder>\n")
    parts.append("</Document>\n</kml>\n")
    points = sum(len(v) for v in by_kind.values())
    return "".join(parts), {"points": points, "tracks": len(trs), "placemarks": points + len(trs),
                            "without_location": len(rows) - points}


def _xml_id(ident: str) -> str:
    # KML ids are XML NCNames: no colons, not starting with a digit
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in ident)
    return safe if safe[:1].isalpha() or safe[:1] == "_" else f"_{safe}"


# -- tables ------------------------------------------------------------------------------

def _atomic_text(out: str | Path, text: str) -> None:
    p = Path(out)
    if p.is_dir():
        raise InputError("is a folder; give a file path for --out", path=str(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _table(what: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    from sitewatch import schema

    decl = schema.table(what)
    cols = EVENT_COLUMNS if what == "events" else EVIDENCE_COLUMNS
    data = {}
    for c in cols:
        col = decl.column(c)
        vals = [r.get(c) for r in rows]
        if col.type == "JSON":
            vals = [None if v is None else json.dumps(v, default=str, sort_keys=True) for v in vals]
        data[c] = pa.array(vals, col.arrow_type)
    return pa.table(data)


def geo_table(table: pa.Table) -> pa.Table:
    """``table`` plus a WKB ``geometry`` point column (NULL where lat/lon is) and GeoParquet metadata."""
    from sitewatch.store import geoparquet

    lat = table.column("lat").to_numpy(zero_copy_only=False).astype(np.float64)
    lon = table.column("lon").to_numpy(zero_copy_only=False).astype(np.float64)
    ok = ~(np.isnan(lat) | np.isnan(lon))
    wkb = geoparquet.wkb_points(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
    geom = pc.if_else(pa.array(ok), wkb, pa.scalar(None, pa.binary()))
    meta = geoparquet.geo_metadata(covering=False)
    if ok.any():
        col = meta["columns"]["geometry"]  # type: ignore[index]
        col["bbox"] = [float(lon[ok].min()), float(lat[ok].min()), float(lon[ok].max()), float(lat[ok].max())]
    out = table.append_column("geometry", geom)
    return out.replace_schema_metadata({b"geo": json.dumps(meta).encode()})


def _write_parquet(table: pa.Table, out: str | Path) -> None:
    p = Path(out)
    if p.is_dir():
        raise InputError("is a folder; give a file path for --out", path=str(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".partial")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_table(what: str, rows: Sequence[dict[str, Any]], fmt: str, out: str | Path) -> dict[str, Any]:
    table = _table(what, rows)
    if fmt == "geoparquet":
        _write_parquet(geo_table(table), out)
    else:
        batches: Iterator[pa.RecordBatch] = iter(table.to_batches())
        sch = table.schema
        if fmt == "csv":
            batches, sch = (iso_times(rb) for rb in table.to_batches()), csv_schema(sch)
        write_batches(batches, sch, out, fmt)
    return {"rows": table.num_rows, "files": [str(out)]}


def export(store: Store, what: str, fmt: str, out: str | Path, site: str | None = None,
           t_from: datetime | None = None, t_to: datetime | None = None, layers: str = "single") -> dict[str, Any]:
    """Write ``what`` (events|evidence) as ``fmt`` to ``out``; return a summary of what was written."""
    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if layers not in LAYERS:
        raise InputError(f"layers {layers!r} is not one of {', '.join(LAYERS)}")
    if layers != "single" and fmt != "geojson":
        raise InputError(f"--layers {layers} applies to --format geojson only")
    rows = records(store, what, site, t_from, t_to)
    summary: dict[str, Any] = {"what": what, "format": fmt, "out": str(out), "records": len(rows)}
    if fmt == "geojson":
        summary.update(_write_geojson(store, what, rows, out, layers))
    elif fmt == "kml":
        text, counts = kml(store, what, rows, f"sitewatch {what}" + (f" — {site}" if site else ""))
        _atomic_text(out, text)
        summary.update({**counts, "files": [str(out)]})
    else:
        summary.update(_write_table(what, rows, fmt, out))
    return summary
