"""Events and evidence out in open formats: GeoJSON, KML (Google Earth), CSV, Parquet.

Contract: :func:`export` writes the events (``what="events"``) or evidence rows of the
workspace, optionally one site and a time window, to ``out`` atomically (``OUT.partial``
renamed when complete) and returns the number of records written.

* GeoJSON: a FeatureCollection; each located record is a Point feature with every column
  as a property; with ``tracks`` each event's referenced positions also become a
  LineString feature (``role: track``), so a map shows where the aircraft or ship went.
* KML 2.2 with the ``gx`` extension: one Placemark per located record (Point, TimeSpan,
  description) in a folder per kind, and each event's positions as a ``gx:Track`` (time
  stamped, plays in Google Earth's time slider).
* CSV / Parquet: one row per record; JSON columns kept as JSON text.
Records without a location are kept in CSV/Parquet and as features with ``geometry: null``
in GeoJSON; KML, which cannot hold them, counts them in the returned summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pyarrow as pa

from sitewatch.errors import InputError
from sitewatch.store import events as EVQ
from sitewatch.store import fusion_queries as Q
from sitewatch.store.db import Store
from sitewatch.store.export import write_batches

FORMATS = ("geojson", "kml", "csv", "parquet")
MAX_TRACK_POINTS = 500
EVENT_COLUMNS = ("event_id", "kind", "site", "t_start", "t_end", "subject", "subject_kind", "confidence", "lat",
                 "lon", "summary", "details", "evidence", "analysis")
EVIDENCE_COLUMNS = ("evidence_id", "site", "t_start", "t_end", "kind", "value", "text", "sensor", "provider",
                    "file_sha256", "ref", "confidence", "simulated", "subject", "lat", "lon")


def records(store: Store, what: str, site: str | None, t_from: datetime | None,
            t_to: datetime | None) -> list[dict[str, Any]]:
    if what == "events":
        return EVQ.list_events(store, site, None, t_from, t_to)
    if what == "evidence":
        return Q.list_evidence(store, site, t_from, t_to)
    raise InputError(f"cannot export {what!r}; choose events or evidence")


def tracks(store: Store, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each event referencing positions: {event_id, kind, subject, source, points [(t, lat, lon)]}."""
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
    pts = Q.tracks_for(store, pa.table({"key": pa.array(cols["key"], pa.string()),
                                        "source": pa.array(cols["source"], pa.string()),
                                        "id": pa.array(cols["id"], pa.string()),
                                        "t_from": pa.array(cols["t_from"], ts), "t_to": pa.array(cols["t_to"], ts)}),
                       MAX_TRACK_POINTS)
    out = []
    for m in meta:
        p = pts.get(m["key"], [])
        if len(p) >= 2:
            out.append({**{k: v for k, v in m.items() if k != "key"}, "points": p})
    return out


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


def _iso(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return v


def _props(r: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in r.items()}


def geojson(store: Store, what: str, rows: Sequence[dict[str, Any]], with_tracks: bool = True) -> dict[str, Any]:
    feats: list[dict[str, Any]] = []
    for r in rows:
        geom = ({"type": "Point", "coordinates": [r["lon"], r["lat"]]}
                if r.get("lat") is not None and r.get("lon") is not None else None)
        feats.append({"type": "Feature", "geometry": geom, "properties": _props(r)})
    if with_tracks and what == "events":
        for t in tracks(store, rows):
            feats.append({"type": "Feature",
                          "geometry": {"type": "LineString", "coordinates": [[lon, lat] for _, lat, lon in t["points"]]},
                          "properties": {"role": "track", "event_id": t["event_id"], "kind": t["kind"],
                                         "subject": t["subject"], "source": t["source"],
                                         "times": [_iso(p[0]) for p in t["points"]]}})
    return {"type": "FeatureCollection", "features": feats}


_KML_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">\n'
             "<Document>\n<name>{name}</name>\n"
             '<Style id="track"><LineStyle><color>ff0080ff</color><width>2</width></LineStyle></Style>\n'
             '<Style id="point"><IconStyle><scale>0.8</scale></IconStyle></Style>\n')


def kml(store: Store, what: str, rows: Sequence[dict[str, Any]], name: str) -> tuple[str, int, int]:
    """(KML text, placemarks written, records without a location)."""
    parts = [_KML_HEAD.format(name=escape(name))]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    unlocated = 0
    for r in rows:
        if r.get("lat") is None or r.get("lon") is None:
            unlocated += 1
            continue
        by_kind.setdefault(str(r["kind"]), []).append(r)
    n = 0
    for kind, items in sorted(by_kind.items()):
        parts.append(f"<Folder><name>{escape(kind)}</name>\n")
        for r in items:
            ident = r.get("event_id") or r.get("evidence_id")
            label = r.get("summary") or r.get("text") or kind
            desc = "\n".join(f"{k}: {_iso(v)}" for k, v in r.items() if k not in ("evidence", "details", "ref")
                             and v is not None)
            span = f"<begin>{_iso(r['t_start'])}</begin>"
            if r.get("t_end") is not None:
                span += f"<end>{_iso(r['t_end'])}</end>"
            parts.append(
                f'<Placemark id="{_xml_id(str(ident))}"><name>{escape(str(kind))} {escape(str(r.get("subject") or ""))}'
                f"</name><description>{escape(str(label))}\n{escape(desc)}</description>"
                f"<TimeSpan>{span}</TimeSpan><styleUrl>#point</styleUrl>"
                f"<Point><coordinates>{float(r['lon']):.6f},{float(r['lat']):.6f},0</coordinates></Point>"
                "</Placemark>\n")
            n += 1
        parts.append("</Folder>\n")
    if what == "events":
        trs = tracks(store, rows)
        if trs:
            parts.append("<Folder><name>tracks</name>\n")
            for t in trs:
                whens = "".join(f"<when>{_iso(p[0])}</when>" for p in t["points"])
                coords = "".join(f"<gx:coord>{p[2]:.6f} {p[1]:.6f} 0</gx:coord>" for p in t["points"])
                parts.append(
                    f"<Placemark><name>{escape(str(t['subject']))} ({escape(t['kind'])})</name>"
                    f"<description>track behind event {escape(t['event_id'])}</description>"
                    f"<styleUrl>#track</styleUrl><gx:Track>{whens}{coords}</gx:Track></Placemark>\n")
                n += 1
            parts.append("</Folder>\n")
    parts.append("</Document>\n</kml>\n")
    return "".join(parts), n, unlocated


def _xml_id(ident: str) -> str:
    # KML ids are XML NCNames: no colons, not starting with a digit
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in ident)
    return safe if safe[:1].isalpha() or safe[:1] == "_" else f"_{safe}"


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
    from sitewatch.store import schema

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


def export(store: Store, what: str, fmt: str, out: str | Path, site: str | None = None,
           t_from: datetime | None = None, t_to: datetime | None = None) -> dict[str, Any]:
    """Write ``what`` (events|evidence) as ``fmt`` to ``out``; return a summary dict."""
    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    rows = records(store, what, site, t_from, t_to)
    summary: dict[str, Any] = {"what": what, "format": fmt, "out": str(out), "records": len(rows)}
    if fmt == "geojson":
        _atomic_text(out, json.dumps(geojson(store, what, rows), default=str))
    elif fmt == "kml":
        text, n, unlocated = kml(store, what, rows, f"sitewatch {what}" + (f" — {site}" if site else ""))
        _atomic_text(out, text)
        summary.update({"placemarks": n, "without_location": unlocated})
    else:
        table = _table(what, rows)
        sch = table.schema
        if fmt == "csv":
            from sitewatch.store.export import csv_schema

            sch = csv_schema(sch)
        write_batches(iter(table.to_batches()), sch, out, fmt)
    return summary
