"""Small text outputs of the simulator: observations CSV, aircraft database CSV, zones.

Contract:

* :func:`write_observations` — the analyst observations as the CSV ``sitewatch ingest
  observations`` reads (header ``t_utc,site,text,count,class,zone,source,url,confidence,
  simulated``; every row ``simulated=true``).
* :func:`write_aircraft_db` — the military airframes in the column layout of the OpenSky
  Network's ``aircraftDatabase.csv`` (all fields quoted), ``notes`` saying SIMULATED.
* :func:`write_tar1090_db` — the same airframes as a tar1090-db folder (``db/<prefix>.js``,
  gzip-compressed JSON ``{suffix: [registration, type, flags, description]}``; flags
  ``10`` = military), the layout that carries a military flag (OpenSky's CSV has none).
* :func:`write_zones` — one GeoJSON Polygon file per zone, for ``sitewatch site zone add``.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

from shapely.geometry import mapping

from sitewatch.simulate.scenario import Airframe, Observation
from sitewatch.sites import Site

OBS_COLUMNS = ("t_utc", "site", "text", "count", "class", "zone", "source", "url", "confidence", "simulated")
OPENSKY_COLUMNS = (
    "icao24", "registration", "manufacturericao", "manufacturername", "model", "typecode", "serialnumber",
    "linenumber", "icaoaircrafttype", "operator", "operatorcallsign", "operatoricao", "operatoriata", "owner",
    "testreg", "registered", "reguntil", "status", "built", "firstflightdate", "seatconfiguration", "engines",
    "modes", "adsb", "acars", "notes", "categoryDescription",
)


def write_observations(path: Path, observations: list[Observation]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(OBS_COLUMNS)
        for o in observations:
            w.writerow([o.t_utc.strftime("%Y-%m-%dT%H:%M:%SZ"), o.site, o.text,
                        "" if o.count is None else f"{o.count:g}", o.cls or "", o.zone or "", o.source, "",
                        f"{o.confidence:.2f}", "true"])
    return path


def write_aircraft_db(path: Path, airframes: list[Airframe]) -> Path:
    makers = {"A124": ("ANTONOV", "Antonov"), "IL76": ("ILYUSHIN", "Ilyushin")}
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(OPENSKY_COLUMNS)
        for a in airframes:
            mi, mn = makers.get(a.typecode, ("", ""))
            row = dict.fromkeys(OPENSKY_COLUMNS, "")
            row.update(icao24=a.icao24, registration=a.registration, manufacturericao=mi, manufacturername=mn,
                       model=a.type_name, typecode=a.typecode, icaoaircrafttype="L4J", operator=a.operator,
                       operatorcallsign="RUSSIAN AIR FORCE", operatoricao="RFF", owner=a.operator,
                       notes="SIMULATED scenario identity (registration/address pair from the public register)",
                       categoryDescription="Heavy (> 300000 lbs)" if a.category == "A5" else "")
            w.writerow([row[c] for c in OPENSKY_COLUMNS])
    return path


def write_tar1090_db(folder: Path, airframes: list[Airframe]) -> Path:
    """A tar1090-db folder holding ``airframes`` (deterministic bytes: gzip mtime 0)."""
    db = folder / "db"
    db.mkdir(parents=True, exist_ok=True)
    by_prefix: dict[str, dict[str, list[str]]] = {}
    for a in airframes:
        h = a.icao24.upper()
        desc = f"{a.type_name} (SIMULATED scenario identity)"
        by_prefix.setdefault(h[:2], {})[h[2:]] = [a.registration, a.typecode, "10" if a.military else "00", desc]
    for prefix, doc in sorted(by_prefix.items()):
        raw = json.dumps(doc, sort_keys=True).encode()
        (db / f"{prefix}.js").write_bytes(gzip.compress(raw, mtime=0))
    return folder


def write_zones(folder: Path, site: Site) -> list[tuple[str, str, Path]]:
    """(zone name, kind, path) for each zone of ``site``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for z in site.zones:
        p = folder / f"{site.name}.{z.name}.SIMULATED.geojson"
        p.write_text(json.dumps({"type": "Feature", "properties": {"zone": z.name, "kind": z.kind,
                                                                   "simulated": True},
                                 "geometry": mapping(z.geometry)}), encoding="utf-8")
        out.append((z.name, z.kind, p))
    return out
