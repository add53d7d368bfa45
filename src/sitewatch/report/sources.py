"""Sources and licences of a report: the input files by name and content hash, the reference
data and software whose output it shows, and their licences or attributions.

Contract: :func:`file_label` names a file without its folder (``name · sha256 prefix``): a
report never shows the analyst's local paths. :func:`files_used` lists the ingested files
behind the report's evidence rows; :func:`attributions` lists what else the report rests on
(site reference, basemap, aircraft and vessel identities, detector model, imagery
providers, analysts' sources) with the licence each is used under, and every source
``sitewatch fetch`` / ``watch run`` brought in for the site (:func:`fetched_sources`: the
provenance each fetcher stores with its ``ingest_log`` row — licence, its link and the
attribution line the publisher asks for).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from sitewatch.sites import Site
from sitewatch.store import detections as DET
from sitewatch.store import ingest_log as ILOG
from sitewatch.store import observations as OBS
from sitewatch.store.db import Store

SHA_CHARS = 12


def file_name(path: str | None) -> str:
    """The file's own name: no folder; an archive member by its member name."""
    if not path:
        return ""
    p = str(path).split("!")[-1]
    return PurePath(p.replace("\\", "/")).name


def file_label(path: str | None, sha256: str | None) -> str:
    name = file_name(path)
    sha = (sha256 or "")[:SHA_CHARS]
    return " · ".join(x for x in (name, f"sha256 {sha}" if sha else "") if x)


@dataclass
class SourceFile:
    kind: str
    name: str
    sha: str
    fmt: str
    records: int | None
    simulated: bool
    full: str = ""  # the whole sha256 (to match evidence rows; shown by its prefix)


@dataclass
class Attribution:
    what: str
    used_for: str
    licence: str


def _shas(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    out: set[str] = set()
    for r in rows:
        for s in str(r.get("file_sha256") or "").split(","):
            if s.strip():
                out.add(s.strip())
    return sorted(out)


def files_used(store: Store, rows: Sequence[Mapping[str, Any]]) -> list[SourceFile]:
    """The ingested files the evidence ``rows`` came from."""
    out = []
    for f in ILOG.files(store, _shas(rows)):
        name = file_name(f["path"])
        out.append(SourceFile(str(f["kind"]), name, str(f["sha256"])[:SHA_CHARS], str(f["format"] or ""),
                              f.get("accepted"), "simulated" in name.lower(), str(f["sha256"])))
    return out


def _model_licence(model: str) -> str:
    if model.lower().startswith("yolov8"):
        return "Ultralytics YOLOv8 OBB trained on DOTA v1.0 — AGPL-3.0 (Ultralytics); DOTA for academic use"
    return "as registered with `sitewatch models add` (see the model's own licence)"


def _for_site(prov: Mapping[str, Any], site: str) -> bool:
    """Whether a fetched input concerns ``site``: its own site, or a keep rule that names it, or
    no site at all (a fetch for the whole workspace)."""
    if prov.get("site") is not None:
        return prov.get("site") == site
    keep = prov.get("keep")
    names = keep.get("sites") if isinstance(keep, Mapping) else None
    if isinstance(names, list) and names and not (keep or {}).get("keep_all") and not (keep or {}).get("all"):
        return site in names
    return True


def fetched_sources(store: Store, site: str) -> list[dict[str, Any]]:
    """One row per fetched source of ``site``: title, licence, its URL, attribution lines, inputs,
    rows, and the imagery provider names it registered scenes under."""
    from sitewatch.store.ingest_log import fetched

    seen: dict[str, dict[str, Any]] = {}
    for f in fetched(store):
        if not _for_site(f, site):
            continue
        s = seen.setdefault(str(f.get("source")), {
            "source": f.get("source"), "title": f.get("title") or f.get("source"), "licence": f.get("licence"),
            "licence_url": f.get("licence_url"), "attributions": [], "inputs": 0, "rows": 0, "providers": set()})
        s["inputs"] += 1
        s["rows"] += int(f.get("accepted") or 0)
        att = f.get("attribution")
        if att and att not in s["attributions"]:
            s["attributions"].append(att)
        if f.get("provider"):
            s["providers"].add(str(f["provider"]))
    return list(seen.values())


def attributions(store: Store, site: Site, rows: Sequence[Mapping[str, Any]], aircraft_sources: Iterable[str],
                 scene_ids: Sequence[str], providers: Iterable[str]) -> list[Attribution]:
    """What the report rests on besides the input files, with licences (see module)."""
    out = []
    fetched = fetched_sources(store, site.name)
    for f in fetched:
        n = f"{f['inputs']} input{'s' if f['inputs'] != 1 else ''}, {f['rows']:,} rows"
        lic = f"{f['licence'] or 'licence not stated'}"
        if f.get("licence_url"):
            lic += f" ({f['licence_url']})"
        if f["attributions"]:
            lic += " — " + "; ".join(sorted(f["attributions"]))
        out.append(Attribution(f"{f['title']} (fetched: {f['source']})", f"fetched for this site: {n}", lic))
    by_fetch = {p for f in fetched for p in f["providers"]}
    if site.source.startswith("airportsdata"):
        out.append(Attribution(f"airportsdata ({site.source.split(':', 1)[1]})", "the site's position and name",
                               "MIT"))
    elif site.source.startswith("wpi"):
        out.append(Attribution("World Port Index (NGA)", "the site's position and name", "public domain"))
    out.append(Attribution("global-land-mask (GLOBE 1 km land mask, NOAA)", "the map's coastline",
                           "MIT (package); GLOBE data public domain"))
    for src in sorted({s for s in aircraft_sources if s}):
        lic = {"tar1090-db": "tar1090-db terms", "opensky": "OpenSky Network aircraft database terms"}.get(
            src, "the database's own terms")
        out.append(Attribution(f"aircraft database: {src}", "aircraft types, registrations, operators", lic))
    if any((r.get("ref") or {}).get("subject_kind") == "vessel" for r in rows):
        out.append(Attribution("ITU Maritime Identification Digits", "vessel flags from the MMSI",
                               "ITU public table"))
    for m in DET.scene_models(store, scene_ids):
        out.append(Attribution(f"detector model {m}", "objects on imagery", _model_licence(m)))
    provs = sorted({p for p in providers if p})
    sim = [p for p in provs if "simulated" in p.lower()]
    if sim:
        out.append(Attribution("imagery: " + "; ".join(sim), "scenes, counts and chips",
                               "simulated by sitewatch.simulate: not real images"))
    for p in (p for p in provs if p not in sim and p not in by_fetch):  # fetched ones are named above
        out.append(Attribution(f"imagery: {p}", "scenes, counts and chips", f"© {p}; used under the provider's licence"))
    reports = OBS.observation_sources(store, site.name)
    for simulated in (True, False):
        mine = [o for o in reports if bool(o.get("simulated")) is simulated]
        if not mine:
            continue
        who = "; ".join(f"{o['source'] or 'unnamed source'}{' ' + str(o['url']) if o.get('url') else ''} ({o['n']})"
                        for o in mine)
        out.append(Attribution(f"analyst reports: {who}", f"{sum(int(o['n']) for o in mine)} observations",
                               "SIMULATED reports" if simulated else "as published by each source; quoted for analysis"))
    return out
