"""Write a scenario's raw files, in the formats a user would bring, under one folder.

Contract: :func:`write_scenario(scenario, folder, adsb_format, scenes)` writes

* ``adsb/regional-feed.SIMULATED.sbs`` (SBS-1) or ``adsb/regional-feed.SIMULATED.beast``
  (Beast binary whose 12 MHz counter is 0 at ``Manifest.adsb_start``, the first frame),
* ``ais/tartus-shore.SIMULATED.nmea`` (tag-blocked ``!AIVDM``),
* ``imagery/<site>-<time>.SIMULATED.tif`` (GeoTIFF scenes; see :mod:`.scenes`),
* ``observations.SIMULATED.csv``, ``aircraft-db.SIMULATED.csv`` (OpenSky layout) and
  ``aircraft-db.SIMULATED/`` (tar1090-db layout), ``zones/*.geojson``,
* ``README.SIMULATED.txt`` saying how each file was made,

and returns a :class:`Manifest` listing them. Deterministic: same scenario, same bytes
(GeoTIFFs carry no creation time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from sitewatch.simulate import layout, records, sea, tracks
from sitewatch.simulate.sbs import write_sbs
from sitewatch.simulate.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass
class SceneFile:
    site: str
    t_utc: datetime
    provider: str
    gsd_m: float
    path: Path
    truth: dict[str, int]  # what was drawn: {"plane": n, "ship": n, "large-vehicle": n}


@dataclass
class Manifest:
    folder: Path
    adsb: Path
    adsb_format: str
    adsb_start: datetime  # Beast: time of the first frame (counter 0), for `ingest adsb --start`
    ais: Path
    observations: Path
    aircraft_db: Path  # OpenSky aircraftDatabase.csv layout
    aircraft_db_tar1090: Path  # tar1090-db folder (carries the military flag)
    zones: dict[str, list[tuple[str, str, Path]]]
    scenes: list[SceneFile] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def write_scenario(sc: Scenario, folder: Path, adsb_format: str = "sbs", scenes: bool = True,
                   progress: Callable[[str], None] | None = None) -> Manifest:
    folder.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _m: None)
    secs: dict[str, float] = {}
    counts: dict[str, int] = {}

    t0 = time.perf_counter()
    adsb_start = sc.t_start
    say("simulating aircraft tracks")
    received = [tracks.received(tracks.leg_track(lg, dt_air_s=10.0 if lg.airframe.military else 20.0), sc.dark)
                for lg in sc.legs]
    received = [r for r in received if len(r)]
    counts["adsb_positions"] = sum(len(r) for r in received)
    (folder / "adsb").mkdir(exist_ok=True)
    if adsb_format == "sbs":
        adsb = folder / "adsb" / "regional-feed.SIMULATED.sbs"
        counts["adsb_lines"] = write_sbs(adsb, received)
    elif adsb_format == "beast":
        from sitewatch.simulate.beast import write_beast

        adsb = folder / "adsb" / "regional-feed.SIMULATED.beast"
        counts["adsb_frames"], adsb_start = write_beast(adsb, received)
    else:
        from sitewatch.errors import InputError

        raise InputError(f"ADS-B format {adsb_format!r}: use sbs or beast")
    secs["adsb"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    say("simulating AIS")
    (folder / "ais").mkdir(exist_ok=True)
    ais = folder / "ais" / "tartus-shore.SIMULATED.nmea"
    rows = sea.ais_lines(sc.voyages, np.random.default_rng(sc.seed + 1))
    ais.write_text("\n".join(r[1] for r in rows) + "\n", encoding="ascii")
    counts["ais_lines"] = len(rows)
    secs["ais"] = time.perf_counter() - t0

    obs = records.write_observations(folder / "observations.SIMULATED.csv", sc.observations)
    db = records.write_aircraft_db(folder / "aircraft-db.SIMULATED.csv", sc.airframes)
    tar1090 = records.write_tar1090_db(folder / "aircraft-db.SIMULATED", sc.airframes)
    h, t = layout.site_objects()
    zones = {s.name: records.write_zones(folder / "zones", s) for s in (h, t)}
    man = Manifest(folder, adsb, adsb_format, adsb_start, ais, obs, db, tar1090, zones, counts=counts,
                   seconds=secs)

    if scenes:
        from sitewatch.simulate.scenes import render_all

        t0 = time.perf_counter()
        man.scenes = render_all(sc, folder / "imagery", say)
        secs["imagery"] = time.perf_counter() - t0
    _readme(man, sc)
    return man


def _readme(man: Manifest, sc: Scenario) -> None:
    lines = [
        "SIMULATED DATA — every file in this folder was written by sitewatch.simulate",
        f"(seed {sc.seed}, scale {sc.scale:g}); it re-enacts the Hmeimim–Tartus withdrawal",
        "reported in December 2024 and is not a record of real traffic.",
        "",
        f"{man.adsb.name}: ADS-B as a regional receiver network would log it ({man.adsb_format});",
        "  tracks are generated from flight legs with 3° descents, climbs, runway and taxi",
        "  paths; one An-124's transponder is off for six hours (no messages at all).",
        f"{man.ais.name}: AIS !AIVDM types 1/3/5 with NMEA 4.0 tag blocks (receive time).",
        f"{man.observations.name}: analyst observations as reported in the article,",
        "  sources named as there (Planet Labs / Maxar via BBC Verify, Flightradar24 …).",
        f"{man.aircraft_db.name}: the military airframes (OpenSky aircraft-database layout);",
        f"{man.aircraft_db_tar1090.name}/: the same as a tar1090-db folder (with the military flag).",
        "zones/: GeoJSON zones of both sites (schematic layout, not a survey).",
    ]
    if man.scenes:
        lines += [
            "imagery/: GeoTIFF scenes RENDERED by the simulator (not satellite images):",
            "  procedural concrete/asphalt/gravel/water textures at the stated GSD; aircraft",
            "  as top-down silhouettes at their real length and span (An-124 69 × 73 m,",
            "  Il-76 47 × 50 m); trucks 8.5–10 m in rows; ships as hulls with",
            "  superstructure; sun shadows; sensor noise. Acquisition time in the",
            "  IMAGERY:ACQUISITIONDATETIME and TIFFTAG_DATETIME tags; SIMULATED in",
            "  TIFFTAG_IMAGEDESCRIPTION and the SITEWATCH_SIMULATED tag.",
        ]
    (man.folder / "README.SIMULATED.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
