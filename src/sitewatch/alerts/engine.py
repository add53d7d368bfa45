"""Evaluate watch rules against the store; raise each firing once; deliver it.

:func:`check` finds candidate firings for every rule, drops those whose ``alert_id``
(a hash of the rule name and the firing key) is already in the ``alerts`` table, sends
the new ones to every channel, and stores them with each channel's outcome. Running it
again (or from the dashboard's live loop) raises nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch import geo
from sitewatch.alerts import channels as C
from sitewatch.alerts.rules import Rule, WatchConfig, compare
from sitewatch.sites import Site
from sitewatch.store import alerts as AL
from sitewatch.store import assessments as ASM
from sitewatch.store import events as EV
from sitewatch.store import evidence as EVD
from sitewatch.store import positions as POS
from sitewatch.store.db import Store


@dataclass(frozen=True)
class Firing:
    rule: str
    key: str
    t_utc: datetime
    site: str | None
    subject: str | None
    text: str
    data: dict[str, Any]

    @property
    def alert_id(self) -> str:
        return hashlib.sha1(f"{self.rule}|{self.key}".encode()).hexdigest()[:20]

    def payload(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "rule": self.rule, "t_utc": _iso(self.t_utc), "site": self.site,
                "subject": self.subject, "text": self.text, "data": self.data}


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def candidates(store: Store, sites: dict[str, Site], rule: Rule) -> list[Firing]:
    """Every firing ``rule`` would raise on the current store (before deduplication)."""
    if rule.kind == "type-near":
        return _type_near(store, sites, rule)
    if rule.kind == "event":
        return [
            Firing(rule.name, e["event_id"], e["t_start"], e["site"], e["subject"],
                   e["summary"] or f"{e['kind']} {e['subject'] or ''} at {e['site'] or 'no site'}".strip(),
                   {"event_id": e["event_id"], "kind": e["kind"], "confidence": e["confidence"]})
            for e in EV.events_of_kind(store, str(rule.event_kind), rule.site, rule.min_confidence)
        ]
    if rule.kind == "evidence":
        out = []
        for r in EVD.evidence_of_kind(store, str(rule.evidence_kind), str(rule.site)):
            if compare(float(r["value"]), rule.op, rule.value):
                day = r["t_start"].astimezone(UTC).date().isoformat()
                out.append(Firing(rule.name, f"{rule.site}|{rule.evidence_kind}|{day}", r["t_start"], rule.site,
                                  None, f"{rule.evidence_kind} at {rule.site} = {r['value']:g} ({rule.op} "
                                  f"{rule.value:g}) on {day}: {r['text']}",
                                  {"evidence_id": r["evidence_id"], "value": r["value"]}))
        return out
    out = []
    for a in ASM.assessment_history(store, str(rule.site), str(rule.hypothesis)):
        if compare(float(a["probability"]), rule.op, rule.value):
            out.append(Firing(rule.name, a["assessment_id"], a["t_as_of"], rule.site, None,
                              f"{rule.hypothesis} at {rule.site}: {a['likelihood']} (p={a['probability']:.2f}, "
                              f"{a['confidence']} confidence), revision {a['revision']}",
                              {"assessment_id": a["assessment_id"], "probability": a["probability"]}))
    return out


def _type_near(store: Store, sites: dict[str, Site], rule: Rule) -> list[Firing]:
    site = sites.get(str(rule.site))
    if site is None:
        return []
    r_m = rule.radius_km * 1000.0
    dlat = rule.radius_km / 111.0
    dlon = dlat / max(np.cos(np.radians(site.lat)), 0.01)
    bbox = (site.lon - dlon, site.lat - dlat, site.lon + dlon, site.lat + dlat)
    rows = POS.aircraft_positions_in_bbox(store, bbox, list(rule.types), rule.military)
    seen: set[str] = set()
    out = []
    for r in rows:
        d = float(geo.haversine_m(site.lat, site.lon, r["lat"], r["lon"]))
        if d > r_m:
            continue
        day = r["t_utc"].astimezone(UTC).date().isoformat()
        key = f"{r['id']}|{site.name}|{day}"
        if key in seen:
            continue
        seen.add(key)
        label = " ".join(x for x in (r["typecode"], r["registration"], r["id"]) if x)
        out.append(Firing(rule.name, key, r["t_utc"], site.name, r["id"],
                          f"{label} {d / 1000:.0f} km from {site.name} at {_iso(r['t_utc'])}",
                          {"typecode": r["typecode"], "registration": r["registration"], "dist_km": round(d / 1000, 1),
                           "lat": r["lat"], "lon": r["lon"]}))
    return out


def check(store: Store, sites: dict[str, Site], cfg: WatchConfig, base: Path,
          send: bool = True) -> list[dict[str, Any]]:
    """Raise the new firings of every rule once, deliver them, return what was raised."""
    raised: list[dict[str, Any]] = []
    for rule in cfg.rules:
        cands = candidates(store, sites, rule)
        uniq = {f.alert_id: f for f in cands}
        have = AL.existing_alert_ids(store, list(uniq))
        new = [f for aid, f in uniq.items() if aid not in have]
        if not new:
            continue
        rows = []
        for f in new:
            payload = f.payload()
            delivery = {f"{c['type']}:{c.get('url') or c.get('to') or c.get('path')}": C.send(c, payload, base)
                        for c in cfg.channels} if send else {}
            rows.append((f, payload, delivery))
            raised.append({**payload, "delivery": delivery})
        now = datetime.now(UTC)
        store.insert("alerts", pa.table({
            "alert_id": [f.alert_id for f, _, _ in rows],
            "rule": [f.rule for f, _, _ in rows],
            "t_utc": pa.array([f.t_utc for f, _, _ in rows], pa.timestamp("us", tz="UTC")),
            "site": [f.site for f, _, _ in rows],
            "subject": [f.subject for f, _, _ in rows],
            "text": [f.text for f, _, _ in rows],
            "payload": [json.dumps(p, sort_keys=True) for _, p, _ in rows],
            "delivery": [json.dumps(d, sort_keys=True) for _, _, d in rows],
            "t_fired_utc": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
        }))
    return raised
