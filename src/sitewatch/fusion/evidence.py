"""The evidence model: every event, detection count, change result and analyst
observation about a site becomes one row of the ``evidence`` table.

Contract: :func:`build` reads the ``events``, ``scenes``, ``detections`` and
``observations`` tables (never the producers' Python modules), plus one coverage row per
sensor and day the area was seen (``air.coverage``, ``sea.coverage``), and returns the evidence
rows of one site as an Arrow table; :func:`refresh` writes them, replacing the site's
previous fusion-built rows (ids start with :data:`PREFIX`) in one transaction. Ids are
deterministic, so re-running gives the same ids and assessments keep their footnotes.

Each row carries: site, interval (``t_start``/``t_end``), ``kind`` (``<domain>.<what>``:
``air.arrival``, ``sea.vessel-departure``, ``imagery.count``, ``analyst.observation`` …),
``value``, a plain ``text``, ``sensor`` (adsb, ais, imagery, analyst), ``provider``,
``file_sha256`` of the source file(s), ``ref`` (the event id / scene + pixel boxes /
observation line behind it, and the attributes indicators need), ``confidence`` 0..1 and
``simulated``.

Policy: an input row that cannot be placed in time (a scene with no acquisition time) is
not turned into evidence; it is counted in :attr:`BuildResult.skipped` with the reason,
which the CLI reports. Events at no watched site count for a site when their point is
within ``near_km`` of it and they are of a kind that happens off-site (declared with the
analysis, :func:`sitewatch.kinds.near_site_kinds`: gaps, dark visits, loitering,
encounters); a port visit elsewhere never counts.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from sitewatch import geo, schema
from sitewatch.detect import gate as G
from sitewatch.reference import types as actypes
from sitewatch.sites import Site
from sitewatch.store import detections as DET
from sitewatch.store import events as EV
from sitewatch.store import evidence as EVD
from sitewatch.store import observations as OBS
from sitewatch.store import positions as POS
from sitewatch.store import scenes as SC
from sitewatch.store import where as WH
from sitewatch.store.db import Store

log = logging.getLogger(__name__)

PREFIX = "fx:"
DEFAULT_NEAR_KM = 100.0  # gaps and dark visits off a coastal base happen tens of km out

# The GSD gate (:mod:`sitewatch.detect.gate`): a class is countable where its objects span
# at least 4 px (ships and aircraft ≥ 40 m at 10 m, not vehicles), narrowed for detector counts
# by the detector's measured reach.
WATCHED_CLASSES = G.WATCHED_CLASSES
VEHICLE_CLASSES = G.VEHICLE_CLASSES

# Analyst observations carry the analyst's confidence; without one, a person reading an
# image is taken as fairly reliable but not certain.
DEFAULT_OBSERVATION_CONFIDENCE = 0.6


def min_resolvable_gsd_m(cls: str) -> float | None:
    """The coarsest GSD at which all of ``cls`` is countable, or ``None`` for other classes."""
    return G.need_gsd_m(cls)


def resolvable(cls: str, gsd_m: float | None) -> bool | None:
    """Whether ``cls`` can be counted (whole or from some length up) at ``gsd_m``, by the scene
    rule (``None`` when the GSD is unknown)."""
    return G.gate(cls, gsd_m).countable


_SENSOR_BY_SUBJECT = {"aircraft": "adsb", "vessel": "ais", "scene": "imagery", "zone": "imagery"}
_SENSOR_BY_ANALYSIS = {"air": "adsb", "sea": "ais", "imagery": "imagery", "space": "imagery"}
DOMAIN = {"adsb": "air", "ais": "sea", "imagery": "imagery", "analyst": "analyst", "other": "other"}


@dataclass
class BuildResult:
    """Evidence rows of one site and what could not become evidence (reason → count)."""

    site: str
    rows: pa.Table
    skipped: dict[str, int] = field(default_factory=dict)
    by_sensor: dict[str, int] = field(default_factory=dict)
    changed: bool = True  # refresh: whether the stored rows had to be replaced


def evidence_id(site: str, *key: Any) -> str:
    h = hashlib.sha1("|".join([site, *map(str, key)]).encode()).hexdigest()
    return f"{PREFIX}{h[:16]}"


def sensor_of_event(e: Mapping[str, Any]) -> str:
    s = _SENSOR_BY_SUBJECT.get(str(e.get("subject_kind") or ""))
    if s:
        return s
    return _SENSOR_BY_ANALYSIS.get(str(e.get("analysis") or "").split(".", 1)[0], "other")


PASSENGER_ROLES = ("government", "airliner")  # reference.types roles that carry people


def event_attrs(e: Mapping[str, Any]) -> dict[str, Any]:
    """What indicators need to know about an event's subject: type, heavy, military, government."""
    d = e.get("details") or {}
    code = d.get("typecode") or d.get("type") or e.get("ac_typecode")
    code = str(code).upper() if code else None
    t = actypes.lookup(code) if code else None
    heavy = d.get("heavy_transport", d.get("heavy"))
    if heavy is None and t is not None:
        heavy = t.heavy_transport
    military = d.get("military")
    if military is None:
        military = e.get("ac_military")
    if military is None and t is not None:
        military = t.military
    out: dict[str, Any] = {}
    if code:
        out["typecode"] = code
    type_name = d.get("type_name") or e.get("ac_type_name") or (t.name if t else None)
    if type_name:
        out["type_name"] = type_name
    if heavy is not None:
        out["heavy"] = bool(heavy)
    if t is not None and t.role in PASSENGER_ROLES:
        out["passenger"] = True  # an airliner or VIP airframe: people, not equipment
    if military is not None:
        out["military"] = bool(military)
    gov = d.get("government", e.get("vs_government"))
    if gov is not None:
        out["government"] = bool(gov)
    if e.get("vs_name"):
        out["vessel_name"] = e["vs_name"]
    if e.get("vs_ship_type") is not None:
        out["ship_type"] = int(e["vs_ship_type"])
    if d.get("arrival_observed") is False:
        out["arrival_observed"] = False  # a port visit under way when the vessel was first seen: no arrival
    return out


def _event_text(e: Mapping[str, Any], attrs: Mapping[str, Any]) -> str:
    if e.get("summary"):
        return str(e["summary"])
    who = attrs.get("type_name") or attrs.get("vessel_name") or e.get("subject") or "unknown subject"
    return f"{e['kind']} of {who} ({e.get('subject') or '?'}) at {e.get('site') or 'no watched site'}"


def build(store: Store, site: Site, near_km: float = DEFAULT_NEAR_KM) -> BuildResult:
    """Evidence rows of ``site`` from the events, scenes, detections and observations tables."""
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    rows += _from_coverage(store, site, near_km)
    rows += _from_events(store, site, near_km)
    rows += _from_imagery(store, site, skipped)
    rows += _from_observations(store, site)
    table = _to_arrow(rows)
    by_sensor = Counter(r["sensor"] for r in rows)
    return BuildResult(site.name, table, dict(skipped), dict(by_sensor))


def fingerprint(rows: Iterable[Mapping[str, Any]]) -> str:
    """A content hash of evidence rows (order-independent; ``ref`` as canonical JSON)."""
    h = hashlib.sha256()
    lines = []
    for r in rows:
        ref = r.get("ref")
        ref_obj = json.loads(ref) if isinstance(ref, str) else ref
        times = [v.astimezone(UTC).isoformat() if isinstance(v, datetime) else str(v)
                 for v in (r.get("t_start"), r.get("t_end"))]
        lines.append("|".join(str(x) for x in (
            r["evidence_id"], *times, r.get("kind"), r.get("value"), r.get("text"), r.get("sensor"),
            r.get("provider"), r.get("file_sha256"), round(float(r.get("confidence") or 0.0), 9),
            bool(r.get("simulated")), r.get("subject"), r.get("lat"), r.get("lon"),
            json.dumps(ref_obj, sort_keys=True, default=str))))
    for line in sorted(lines):
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


def refresh(store: Store, sites: Iterable[Site], near_km: float = DEFAULT_NEAR_KM) -> list[BuildResult]:
    """Rebuild the evidence of each site and store it only where it changed (one transaction
    per site): a read of unchanged evidence (timeline, assess, report) writes nothing."""
    out = []
    for s in sites:
        res = build(store, s, near_km)
        stored = [r for r in EVD.list_evidence(store, s.name) if str(r["evidence_id"]).startswith(PREFIX)]
        res.changed = fingerprint(res.rows.to_pylist()) != fingerprint(stored)
        if res.changed:
            EVD.replace_evidence(store, s.name, PREFIX, res.rows)
        if res.skipped:
            log.warning("%s: not turned into evidence: %s", s.name, res.skipped)
        out.append(res)
    return out


def near_bbox(site: Site, near_km: float) -> WH.BBox:
    """The site's bounding box grown by ``near_km`` (a cheap pre-filter for SQL)."""
    import math

    dlat = near_km / 111.0
    dlon = near_km / (111.0 * max(0.05, math.cos(math.radians(site.lat))))
    b = site.bbox()
    return (b[0] - dlon, b[1] - dlat, b[2] + dlon, b[3] + dlat)


# -- coverage --------------------------------------------------------------------------
# One row per sensor and UTC day on which positions were received within ``near_km``: the
# evidence that the sensor *saw* the area, which is what makes a day without events a zero
# (and what a quiet indicator's sentence is footnoted to). A recorded live-feed outage of a
# box holding the site (``feed_outages``: an API down, the aisstream WebSocket dropped) is
# lower coverage, never evidence of anything at the site: the day's row says for how long
# the feed could not see (``ref.outage_s``) and its confidence is the part of the day it
# could (at least :data:`MIN_COVERAGE_CONFIDENCE`), so a zero resting on it weighs less. A
# day wholly inside an outage has no positions, hence no row: not observed, not zero.

_SENSOR_WORDS = {"adsb": "ADS-B", "ais": "AIS"}
MIN_COVERAGE_CONFIDENCE = 0.1  # a day with any positions saw something


def _outage_spans(store: Store, site: Site, sensor: str, t0: datetime, t1: datetime,
                  cache: dict[str, Any]) -> list[tuple[float, float]]:
    """Merged stretches of ``[t0, t1)`` in which a live feed of ``sensor`` could not see the site."""
    from sitewatch.analytics._outages import Outages

    if sensor not in cache:
        cache[sensor] = Outages.load(store, sensor)
    return list(cache[sensor].blind([(site.lat, site.lon)], t0.timestamp(), t1.timestamp()))


def _from_coverage(store: Store, site: Site, near_km: float) -> list[dict[str, Any]]:
    from datetime import time, timedelta

    out = []
    outages: dict[str, Any] = {}
    for c in POS.coverage_days(store, near_bbox(site, near_km), files=True):
        sensor = str(c["source"])
        t0 = datetime.combine(c["day"], time(0), tzinfo=UTC)
        shas = [x for x in (c["shas"] or []) if x]
        who = "aircraft" if sensor == "adsb" else "vessels"
        blind_s = sum(b - a for a, b in _outage_spans(store, site, sensor, t0, t0 + timedelta(days=1), outages))
        seen = max(MIN_COVERAGE_CONFIDENCE, 1.0 - blind_s / 86400.0)
        out.append({
            "evidence_id": evidence_id(site.name, "coverage", sensor, c["day"]),
            "site": site.name, "t_start": t0, "t_end": t0 + timedelta(days=1),
            "kind": f"{DOMAIN.get(sensor, 'other')}.coverage", "value": float(c["n"]),
            "text": (f"{_SENSOR_WORDS.get(sensor, sensor)} coverage: {c['n']} positions of {c['n_ids']} {who} "
                     f"within {near_km:.0f} km of the site on {c['day']}"
                     + (f"; a live feed could not see the site for {blind_s / 3600:.1f} h of it (feed outage)"
                        if blind_s else "")),
            "sensor": sensor, "provider": "positions", "file_sha256": ",".join(shas[:20]) if shas else None,
            "ref": {"table": "positions", "source": sensor, "day": str(c["day"]), "near_km": near_km,
                    "ids": int(c["n_ids"]), "files": len(shas), **({"outage_s": round(blind_s, 1)} if blind_s else {})},
            "confidence": round(seen, 4), "simulated": bool(c["simulated"]), "subject": None,
            "lat": site.lat, "lon": site.lon,
        })
    return out


# -- events ----------------------------------------------------------------------------

def _from_events(store: Store, site: Site, near_km: float) -> list[dict[str, Any]]:
    from sitewatch.kinds import near_site_kinds

    events = EV.site_events(store, site.name, near_bbox(site, near_km))
    near_kinds = near_site_kinds()  # events at no watched site that still tell about a site nearby
    keep = []
    for e in events:
        if e["site"] is None:
            if e["kind"] not in near_kinds or e["lat"] is None or e["lon"] is None:
                continue
            if float(geo.haversine_m(site.lat, site.lon, e["lat"], e["lon"])) > near_km * 1000.0:
                continue
        keep.append(e)
    refs: dict[str, list[Any]] = {"key": [], "source": [], "id": [], "t_from": [], "t_to": []}
    for e in keep:
        for ref in e["evidence"]:
            if isinstance(ref, dict) and ref.get("table") == "positions" and ref.get("id"):
                refs["key"].append(e["event_id"])
                refs["source"].append(ref.get("source"))
                refs["id"].append(str(ref["id"]))
                refs["t_from"].append(_ts(ref.get("t_from")) or e["t_start"])
                refs["t_to"].append(_ts(ref.get("t_to")) or e["t_end"] or e["t_start"])
    ts = pa.timestamp("us", tz="UTC")
    files = POS.position_files(store, pa.table({
        "key": pa.array(refs["key"], pa.string()), "source": pa.array(refs["source"], pa.string()),
        "id": pa.array(refs["id"], pa.string()), "t_from": pa.array(refs["t_from"], ts),
        "t_to": pa.array(refs["t_to"], ts)}))
    out = []
    for e in keep:
        sensor = sensor_of_event(e)
        attrs = event_attrs(e)
        f = files.get(e["event_id"], {})
        details = e["details"]
        value = details.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            value = 1.0
        shas = f.get("sha256") or []
        out.append({
            "evidence_id": evidence_id(site.name, "events", e["event_id"]),
            "site": site.name,
            "t_start": e["t_start"],
            "t_end": e["t_end"],
            "kind": f"{DOMAIN.get(sensor, 'other')}.{e['kind']}",
            "value": float(value),
            "text": _event_text(e, attrs),
            "sensor": sensor,
            "provider": e["analysis"],
            "file_sha256": ",".join(shas) if shas else None,
            "ref": {"table": "events", "event_id": e["event_id"], "subject": e["subject"],
                    "subject_kind": e["subject_kind"], "at_site": e["site"] == site.name,
                    "files": f.get("files", []), **attrs},
            "confidence": float(e["confidence"]),
            "simulated": bool(f.get("simulated") or details.get("simulated")),
            "subject": e["subject"],
            "lat": e["lat"],
            "lon": e["lon"],
        })
    return out


def _ts(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    try:
        t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# -- imagery ---------------------------------------------------------------------------
# A scene becomes an ``imagery.scene`` row; once a detector has run over it (``detect_runs``),
# its detections become ``imagery.count`` rows, one per (zone or none, class, top type), each
# detection in exactly one row, so a scene's rows of a class add up to its total. Zeros are
# rows too: for each vehicle class a zero row for every zone without one, and for every
# watched class a site-wide (zone none) zero row when the scene has none of it anywhere.
# The GSD gate decides per scene and class (:func:`sitewatch.detect.gate.detector_gate`: the
# 4 px scene rule narrowed by the measured reach of the detector that ran): a class it does not
# let count becomes an ``imagery.limit`` row, never a count — a zero, and detections too (a
# vehicle found in a 10 m scene is not a vehicle count); a class countable only from some
# length up ("ships ≥ 40 m") is a count that says so (``ref.from_m``).
# Scenes never detected count nothing: no count rows, so no zone or site observation.

def _detectors(store: Store, scene_ids: list[str]) -> dict[str, str | None]:
    """The detector that ran over each scene (``detect_runs.settings``; None: the built-in one)."""
    from sitewatch.store import detections as DET

    return {sid: G.detector_of(r.get("settings")) for sid, r in DET.runs(store, scene_ids).items()}


def _from_imagery(store: Store, site: Site, skipped: Counter[str]) -> list[dict[str, Any]]:
    scenes = {s["scene_id"]: s for s in SC.site_scenes(store, site.name)}
    counts = DET.detection_counts(store, site.name)
    detectors = _detectors(store, [k for k, s in scenes.items() if s["detected"]])
    for sid, s in scenes.items():
        s["detector"] = detectors.get(sid)
    out: list[dict[str, Any]] = []
    for s in scenes.values():
        if s["t_utc"] is None:
            skipped["scene without acquisition time"] += 1
            continue
        gsd = s["gsd_m"]
        gsd_text = f"{gsd:.2f} m GSD" if gsd is not None else "unknown GSD"
        out.append(_scene_row(site, s, "imagery.scene", gsd, "scene",
                              f"Scene {s['scene_id'][:12]} from {s['provider'] or 'unknown provider'} "
                              f"at {gsd_text}{' (cloud/haze)' if s['cloud_flag'] else ''}",
                              {"table": "scenes", "scene_id": s["scene_id"], "path": s["path"],
                               "gsd_m": gsd, "cloud": bool(s["cloud_flag"])}, 1.0))
    seen: set[tuple[str, str | None, str]] = set()
    for c in counts:
        sc = scenes.get(c["scene_id"])
        if sc is None:
            skipped["detections of an unknown scene"] += int(c["n"])
            continue
        if sc["t_utc"] is None:
            skipped["detections in a scene without acquisition time"] += int(c["n"])
            continue
        seen.add((c["scene_id"], c["zone"], c["class"]))
        row = _count_row(site, sc, c["zone"], c["class"], c["top_type"], int(c["n"]),
                         float(c["mean_score"]), list(c["det_ids"] or []), c["lat"], c["lon"])
        row["ref"]["boxes_px"] = [list(b) for b in (c["boxes_px"] or [])]
        out.append(row)
    # an imagery count exists on every day with a scene: classes the scene could resolve but
    # where nothing was found are real zeros; those it could not resolve are sensor limits
    zones: list[str | None] = [None, *[z.name for z in site.zones]]
    for s in scenes.values():
        if s["t_utc"] is None or not s["detected"]:
            continue  # a scene no detector has looked at counts nothing, not zero
        for cls in WATCHED_CLASSES:
            for zone in zones:
                if zone is not None and cls not in VEHICLE_CLASSES:
                    continue
                if zone is None and any(k[0] == s["scene_id"] and k[2] == cls for k in seen):
                    continue
                if (s["scene_id"], zone, cls) in seen:
                    continue
                out.append(_count_row(site, s, zone, cls, None, 0, None, [], None, None))
    return out


def _scene_row(site: Site, s: Mapping[str, Any], kind: str, value: float | None, key: str, text: str,
               ref: dict[str, Any], confidence: float) -> dict[str, Any]:
    return {
        "evidence_id": evidence_id(site.name, "scenes", s["scene_id"], key),
        "site": site.name, "t_start": s["t_utc"], "t_end": s["t_utc"], "kind": kind, "value": value,
        "text": text, "sensor": "imagery", "provider": s["provider"], "file_sha256": s["sha256"],
        "ref": ref, "confidence": confidence, "simulated": bool(s["simulated"]), "subject": s["scene_id"],
        "lat": site.lat, "lon": site.lon,
    }


def _count_row(site: Site, s: Mapping[str, Any], zone: str | None, cls: str, top_type: str | None, n: int,
               mean_score: float | None, det_ids: list[str], lat: float | None,
               lon: float | None) -> dict[str, Any]:
    gsd = s["gsd_m"]
    g = G.detector_gate(cls, gsd, s.get("detector"))
    ok = g.countable
    where = f"zone {zone}" if zone else "the site"
    what = cls + (f" ({top_type})" if top_type else "")
    ref: dict[str, Any] = {"table": "detections", "scene_id": s["scene_id"], "zone": zone, "class": cls,
                           "type": top_type, "det_ids": det_ids, "gsd_m": gsd, "resolvable": ok, "gate": g.status,
                           "model": s.get("model")}
    kind = "imagery.count"
    value: float | None = float(n)
    text: str
    if ok is False:  # not a count, whatever was found: the scene or the detector cannot count this class
        kind = "imagery.limit"
        value = None
        text = (f"{cls} not countable in {where}: {g.why}" if n == 0 else
                f"{n} × {what} found in {where} but not counted: {g.why}")
        ref["found"] = n
        conf = 1.0
    else:
        text = f"{n} × {what} in {where}, scene {s['scene_id'][:12]} ({s['provider'] or 'unknown provider'}"
        text += f", {gsd:.2f} m GSD)" if gsd is not None else ", unknown GSD)"
        if g.status == "part" and g.from_m is not None:
            ref["from_m"] = round(g.from_m, 1)
            text += f"; complete for {G.WORDS.get(cls, cls)} ≥ {g.from_m:.0f} m at this GSD ({g.why})"
        # a zero from a clean scene is as good as the scene; a count is as good as its detections
        conf = mean_score if mean_score is not None else (0.5 if s["cloud_flag"] else 0.8)
    return {
        "evidence_id": evidence_id(site.name, "detections", s["scene_id"], zone, cls, top_type),
        "site": site.name, "t_start": s["t_utc"], "t_end": s["t_utc"], "kind": kind, "value": value,
        "text": text, "sensor": "imagery", "provider": s["provider"], "file_sha256": s["sha256"],
        "ref": ref, "confidence": float(max(0.0, min(1.0, conf))), "simulated": bool(s["simulated"]),
        "subject": s["scene_id"], "lat": lat if lat is not None else site.lat,
        "lon": lon if lon is not None else site.lon,
    }


# -- observations ----------------------------------------------------------------------
# One ``analyst.observation`` row per observation, ``value`` its count (``None`` when the text
# gives none) and ``ref`` its class and zone as written. These are reports, not detections:
# indicators keep them in their own series and never add them to imagery counts or treat
# a zone an analyst named as an imagery observation of that zone.

def _from_observations(store: Store, site: Site) -> list[dict[str, Any]]:
    out = []
    for o in OBS.site_observations(store, site.name):
        conf = o["confidence"] if o["confidence"] is not None else DEFAULT_OBSERVATION_CONFIDENCE
        out.append({
            "evidence_id": evidence_id(site.name, "observations", o["obs_id"]),
            "site": site.name, "t_start": o["t_utc"], "t_end": o["t_utc"], "kind": "analyst.observation",
            "value": o["count"], "text": o["text"], "sensor": "analyst", "provider": o["source"],
            "file_sha256": o["file_sha256"],
            "ref": {"table": "observations", "obs_id": o["obs_id"], "url": o["url"], "path": o["file_path"],
                    "line": o["rec_offset"], "class": o["class"], "zone": o["zone"]},
            "confidence": float(conf), "simulated": bool(o["simulated"]), "subject": o["class"],
            "lat": site.lat, "lon": site.lon,
        })
    return out


def _to_arrow(rows: list[dict[str, Any]]) -> pa.Table:
    decl = schema.EVIDENCE
    cols: dict[str, pa.Array] = {}
    for c in decl.columns:
        vals = [r.get(c.name) for r in rows]
        if c.name == "ref":
            vals = [json.dumps(v, sort_keys=True, default=str) for v in vals]
        cols[c.name] = pa.array(vals, c.arrow_type)
    return pa.table(cols, schema=decl.arrow_schema())
