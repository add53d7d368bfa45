"""Object counts per scene, per zone and per class: what ``sitewatch counts`` prints.

One row ``{scene, t_utc, zone, class, count, countable, complete_from_m}`` per detected scene of the site, per zone
(``zone: None`` for the whole site) and per class seen in any of the site's scenes, so
a class absent from a scene is counted as 0 there (a count of zero is evidence too:
"no aircraft on the apron"). The whole-site count keeps a detection when its centre is
inside the site's watch area, or when the scene has no georeference (then the whole
image is taken as the site).

``countable`` is what the GSD gate lets the scene's detector count of the class
(:func:`sitewatch.detect.gate.detector_gate`): ``all``; ``part`` — complete only for objects
of ``complete_from_m`` metres and longer; ``none`` — what was found is not a count (the
evidence keeps it as ``imagery.limit``); ``unknown`` when the scene has no GSD.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from sitewatch.detect import gate as G
from sitewatch.sites import Site
from sitewatch.store import detections as DET
from sitewatch.store.db import Store


def counts(store: Store, site: Site, scene_id: str | None = None) -> list[dict[str, Any]]:
    """Counts for ``site`` (optionally one scene), oldest scene first."""
    scenes = DET.run_scenes(store, site.name, scene_id)
    dets = DET.counted(store, site.name, scene_id)
    classes = sorted({d["class"] for d in dets})
    if dets:
        lat = np.asarray([np.nan if d["lat"] is None else d["lat"] for d in dets], float)
        lon = np.asarray([np.nan if d["lon"] is None else d["lon"] for d in dets], float)
        geo = ~np.isnan(lat)
        inside = np.ones(len(dets), bool)
        if geo.any():
            inside[geo] = site.contains(lat[geo], lon[geo])
    whole: Counter[tuple[str, str]] = Counter()
    by_zone: Counter[tuple[str, str, str]] = Counter()
    for k, d in enumerate(dets):
        if inside[k]:
            whole[(d["scene"], d["class"])] += 1
        if d["zone"] is not None:
            by_zone[(d["scene"], d["zone"], d["class"])] += 1
    zones = sorted(z.name for z in site.zones)
    out: list[dict[str, Any]] = []
    for s in scenes:
        detector = G.detector_of(s.get("settings"))
        gates = {c: G.detector_gate(c, s.get("gsd_m"), detector) for c in classes}
        for c in classes:
            out.append(_row(s, None, gates[c], whole[(s["scene"], c)]))
        for z in zones:
            for c in classes:
                out.append(_row(s, z, gates[c], by_zone[(s["scene"], z, c)]))
    return out


def _row(s: dict[str, Any], zone: str | None, g: G.Gate, n: int) -> dict[str, Any]:
    part = g.status == "part" and g.from_m is not None
    return {"scene": s["scene"], "t_utc": s["t_utc"], "zone": zone, "class": g.cls, "count": n,
            "countable": g.status, "complete_from_m": round(g.from_m, 1) if part and g.from_m else None}
