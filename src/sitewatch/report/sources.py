"""Sources and licences of a report: the input files by name and content hash, the reference
data and software whose output it shows, and their licences or attributions.

Contract: :func:`file_label` names a file without its folder (``name · sha256 prefix``): a
report never shows the analyst's local paths. :func:`files_used` lists the ingested files
behind the report's evidence rows; :func:`attributions` lists what else the report rests on
(site reference, basemap, aircraft and vessel identities, detector model, imagery
providers, analysts' sources) with the licence each is used under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from sitewatch.report import queries as RQ
from sitewatch.sites import Site
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
    for f in RQ.files(store, _shas(rows)):
        name = file_name(f["path"])
        out.append(SourceFile(str(f["kind"]), name, str(f["sha256"])[:SHA_CHARS], str(f["format"] or ""),
                              f.get("accepted"), "simulated" in name.lower(), str(f["sha256"])))
    return out


def _model_licence(model: str) -> str:
    if model.lower().startswith("yolov8"):
        return "Ultralytics YOLOv8 OBB trained on DOTA v1.0 — AGPL-3.0 (Ultralytics); DOTA for academic use"
    return "as registered with `sitewatch models add` (see the model's own licence)"


def attributions(store: Store, site: Site, rows: Sequence[Mapping[str, Any]], aircraft_sources: Iterable[str],
                 scene_ids: Sequence[str], providers: Iterable[str]) -> list[Attribution]:
    """What the report rests on besides the input files, with licences (see module)."""
    out = []
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
    for m in RQ.scene_models(store, scene_ids):
        out.append(Attribution(f"detector model {m}", "objects on imagery", _model_licence(m)))
    provs = sorted({p for p in providers if p})
    sim = [p for p in provs if "simulated" in p.lower()]
    if sim:
        out.append(Attribution("imagery: " + "; ".join(sim), "scenes, counts and chips",
                               "simulated by sitewatch.simulate: not real images"))
    for p in (p for p in provs if p not in sim):
        out.append(Attribution(f"imagery: {p}", "scenes, counts and chips", f"© {p}; used under the provider's licence"))
    reports = RQ.observation_sources(store, site.name)
    for simulated in (True, False):
        mine = [o for o in reports if bool(o.get("simulated")) is simulated]
        if not mine:
            continue
        who = "; ".join(f"{o['source'] or 'unnamed source'}{' ' + str(o['url']) if o.get('url') else ''} ({o['n']})"
                        for o in mine)
        out.append(Attribution(f"analyst reports: {who}", f"{sum(int(o['n']) for o in mine)} observations",
                               "SIMULATED reports" if simulated else "as published by each source; quoted for analysis"))
    return out
