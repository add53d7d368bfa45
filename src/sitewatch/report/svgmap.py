"""The report's map: tracks, gaps, dark-visit links and vessel movements around a site,
drawn as one inline SVG over an offline land basemap.

Contract: :func:`render` takes the site, :class:`MapLayer` items and a bounding box and
returns SVG text (no external references). The projection is a local equirectangular one
(x scaled by cos(latitude) at the site), accurate to well under 1 % over the ~100 km a site
map spans. Land polygons come from :func:`sitewatch.basemap.land_geojson` (the 1 km GLOBE
land mask of ``global_land_mask``) when available; otherwise the map says it has no basemap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from shapely.geometry import mapping

from sitewatch.sites import Site

WIDTH_PX = 760
HEIGHT_PX = 560
COLORS = {"adsb": "#1f5fbf", "ais": "#0f8a7a", "gap": "#c0392b", "dark-visit": "#e67e22",
          "event": "#333333", "site": "#8e44ad"}


@dataclass
class MapLayer:
    """One thing to draw: a polyline (``points`` lat/lon) or a marker (one point)."""

    kind: str  # track | gap | link | marker
    sensor: str  # adsb | ais | other
    points: list[tuple[float, float]]  # (lat, lon)
    title: str = ""
    style: dict[str, Any] = field(default_factory=dict)


class Projection:
    def __init__(self, bbox: tuple[float, float, float, float], lat0: float) -> None:
        self.x0, self.y0, self.x1, self.y1 = bbox
        self.k = math.cos(math.radians(lat0))
        w_deg = (self.x1 - self.x0) * self.k
        h_deg = self.y1 - self.y0
        self.scale = min(WIDTH_PX / w_deg, HEIGHT_PX / h_deg)
        self.w = w_deg * self.scale
        self.h = h_deg * self.scale

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.x0) * self.k * self.scale, (self.y1 - lat) * self.scale

    def km_per_px(self) -> float:
        return 111.32 / self.scale


def fit_bbox(site: Site, layers: Sequence[MapLayer], max_km: float, min_km: float
             ) -> tuple[float, float, float, float]:
    """A box around the site holding the layers' points that lie within ``max_km``."""
    kx = 111.32 * math.cos(math.radians(site.lat))
    xs, ys = [site.lon], [site.lat]
    b = site.bbox()
    xs += [b[0], b[2]]
    ys += [b[1], b[3]]
    for layer in layers:
        for lat, lon in layer.points:
            if abs(lat - site.lat) * 111.32 <= max_km and abs(lon - site.lon) * kx <= max_km:
                xs.append(lon)
                ys.append(lat)
    half_x = max((max(xs) - min(xs)) / 2 * 1.1, min_km / kx)
    half_y = max((max(ys) - min(ys)) / 2 * 1.1, min_km / 111.32)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    # keep the aspect ratio of the canvas
    ratio = WIDTH_PX / HEIGHT_PX
    if half_x * kx / 111.32 < half_y * ratio:
        half_x = half_y * ratio * 111.32 / kx
    else:
        half_y = half_x * kx / 111.32 / ratio
    return (cx - half_x, cy - half_y, cx + half_x, cy + half_y)


def _path(proj: Projection, pts: Sequence[tuple[float, float]]) -> str:
    return " ".join(("M" if i == 0 else "L") + f"{x:.1f},{y:.1f}"
                    for i, (x, y) in enumerate(proj.xy(lat, lon) for lat, lon in pts))


def _ring_path(proj: Projection, ring: Sequence[Sequence[float]]) -> str:
    return _path(proj, [(float(c[1]), float(c[0])) for c in ring]) + " Z"


def _geom_paths(proj: Projection, geom: dict[str, Any]) -> list[str]:
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else (
        geom["coordinates"] if geom["type"] == "MultiPolygon" else [])
    return [" ".join(_ring_path(proj, ring) for ring in poly) for poly in polys]


def land(bbox: tuple[float, float, float, float]) -> tuple[list[dict[str, Any]], str]:
    """(land geometries, note) for ``bbox``."""
    try:
        from sitewatch import basemap  # type: ignore[attr-defined]
    except ImportError:
        return [], "no basemap module: land not drawn"
    try:
        fc = basemap.land_geojson(bbox)
    except Exception as exc:  # the basemap is decoration: a failure must not lose the report
        return [], f"basemap unavailable ({exc}); land not drawn"
    return [f["geometry"] for f in fc.get("features", [])], "land: GLOBE 1 km land mask (global_land_mask)"


def render(site: Site, layers: Sequence[MapLayer], bbox: tuple[float, float, float, float]) -> tuple[str, str]:
    """(SVG text, basemap note)."""
    proj = Projection(bbox, site.lat)
    w, h = proj.w, proj.h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="site-map" viewBox="0 0 {w:.0f} {h:.0f}" '
           f'width="{w:.0f}" height="{h:.0f}" role="img" aria-label="Map of {escape(site.name)}">',
           f'<rect width="{w:.0f}" height="{h:.0f}" fill="#dbe9f4"/>']
    geoms, note = land(bbox)
    for g in geoms:
        for d in _geom_paths(proj, g):
            out.append(f'<path class="land" d="{d}" fill="#f3efe4" stroke="#b8b09a" stroke-width="0.6" '
                       'fill-rule="evenodd"/>')
    for d in _geom_paths(proj, dict(mapping(site.area))):
        out.append(f'<path class="site-area" d="{d}" fill="{COLORS["site"]}" fill-opacity="0.08" '
                   f'stroke="{COLORS["site"]}" stroke-width="1.5"><title>{escape(site.name)} watch area</title></path>')
    for z in site.zones:
        for d in _geom_paths(proj, dict(mapping(z.geometry))):
            out.append(f'<path class="zone" d="{d}" fill="none" stroke="{COLORS["site"]}" stroke-dasharray="3,2">'
                       f"<title>zone {escape(z.name)}</title></path>")
    for layer in layers:
        color = COLORS.get(layer.kind if layer.kind in ("gap", "dark-visit") else layer.sensor, COLORS["event"])
        title = f"<title>{escape(layer.title)}</title>" if layer.title else ""
        if layer.kind == "track" and len(layer.points) >= 2:
            out.append(f'<path class="track {layer.sensor}" d="{_path(proj, layer.points)}" fill="none" '
                       f'stroke="{color}" stroke-width="1.4" stroke-opacity="0.85">{title}</path>')
        elif layer.kind in ("gap", "link") and len(layer.points) >= 2:
            c = COLORS["gap"] if layer.kind == "gap" else COLORS["dark-visit"]
            out.append(f'<path class="{layer.kind}" d="{_path(proj, layer.points)}" fill="none" stroke="{c}" '
                       f'stroke-width="1.8" stroke-dasharray="6,4">{title}</path>')
        elif layer.kind == "marker" and layer.points:
            x, y = proj.xy(*layer.points[0])
            c = layer.style.get("color", color)
            out.append(f'<circle class="marker" cx="{x:.1f}" cy="{y:.1f}" r="{layer.style.get("r", 4)}" '
                       f'fill="{c}" stroke="#fff" stroke-width="1">{title}</circle>')
    sx, sy = proj.xy(site.lat, site.lon)
    out.append(f'<path d="M{sx - 7:.1f},{sy:.1f} L{sx + 7:.1f},{sy:.1f} M{sx:.1f},{sy - 7:.1f} L{sx:.1f},{sy + 7:.1f}" '
               f'stroke="{COLORS["site"]}" stroke-width="2"/>')
    right = sx > w * 0.55  # label on the side with room for it
    out.append(f'<text x="{sx - 9 if right else sx + 9:.1f}" y="{sy - 9:.1f}" font-size="13" font-weight="bold" '
               f'text-anchor="{"end" if right else "start"}" paint-order="stroke" stroke="#fff" stroke-width="3" '
               f'fill="{COLORS["site"]}">{escape(site.label or site.name)}</text>')
    out.append(_scale_bar(proj, h))
    out.append(f'<g transform="translate({w - 24:.0f},30)"><path d="M0,-14 L6,6 L0,2 L-6,6 Z" fill="#333"/>'
               '<text x="-4" y="20" font-size="11">N</text></g>')
    out.append("</svg>")
    return "\n".join(out), note


def _scale_bar(proj: Projection, h: float) -> str:
    target_km = proj.km_per_px() * 120
    nice = min((1, 2, 5, 10, 20, 50, 100, 200, 500), key=lambda v: abs(v - target_km))
    px = nice / proj.km_per_px()
    return (f'<g transform="translate(14,{h - 18:.0f})"><rect width="{px:.1f}" height="5" fill="#333"/>'
            f'<text y="-4" font-size="11">{nice} km</text></g>')
