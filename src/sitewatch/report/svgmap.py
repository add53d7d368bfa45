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

WIDTH_PX = 720
HEIGHT_PX = 470
LABEL_PX = 11.0  # label font size
INSET_PX = 200
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
    label: str = ""  # drawn on the map (the title is the hover text)


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


def render(site: Site, layers: Sequence[MapLayer], bbox: tuple[float, float, float, float],
           others: Sequence[Site] = (), inset: bool = False) -> tuple[str, str]:
    """(SVG text, basemap note). ``others``: other watched sites, drawn and labelled when in
    the box; ``inset``: a corner panel with the site's watch area and zones, labelled."""
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
        out += _layer(proj, layer)
    placed: list[tuple[float, float, float, float]] = []
    labels: list[str] = []
    panel = ""
    if inset and site.zones:
        panel, box = _inset(site, proj, layers, others)
        placed.append(box)
    for s in [site, *others]:
        sx, sy = proj.xy(s.lat, s.lon)
        if not (0 <= sx <= w and 0 <= sy <= h):
            continue
        out.append(f'<path class="site-mark" d="M{sx - 7:.1f},{sy:.1f} L{sx + 7:.1f},{sy:.1f} M{sx:.1f},{sy - 7:.1f} '
                   f'L{sx:.1f},{sy + 7:.1f}" stroke="{COLORS["site"]}" stroke-width="2"/>')
        name = s.name if s is not site else f"{s.name} ({s.label})" if s.label else s.name
        labels += _place(name, sx, sy, w, h, placed, 13.0, True, COLORS["site"])
    for layer in layers:
        if layer.label and layer.points:
            x, y = _anchor(proj, layer, w, h, site)
            if x is not None and y is not None:
                color = COLORS["dark-visit"] if layer.kind == "link" else COLORS.get(layer.sensor, "#333")
                labels += _place(layer.label, x, y, w, h, placed, LABEL_PX, False, color)
    out += labels
    if panel:
        out.append(panel)
    out.append(_scale_bar(proj, h))
    out.append(f'<g transform="translate({w - 24:.0f},30)"><path d="M0,-14 L6,6 L0,2 L-6,6 Z" fill="#333"/>'
               '<text x="-4" y="20" font-size="11">N</text></g>')
    out.append("</svg>")
    return "\n".join(out), note


def _layer(proj: Projection, layer: MapLayer) -> list[str]:
    color = COLORS.get(layer.kind if layer.kind in ("gap", "dark-visit") else layer.sensor, COLORS["event"])
    title = f"<title>{escape(layer.title)}</title>" if layer.title else ""
    if layer.kind == "track" and len(layer.points) >= 2:
        return [f'<path class="track {layer.sensor}" d="{_path(proj, layer.points)}" fill="none" '
                f'stroke="{color}" stroke-width="1.4" stroke-opacity="0.85">{title}</path>']
    if layer.kind in ("gap", "link") and len(layer.points) >= 2:
        c = COLORS["gap"] if layer.kind == "gap" else COLORS["dark-visit"]
        return [f'<path class="{layer.kind}" d="{_path(proj, layer.points)}" fill="none" stroke="{c}" '
                f'stroke-width="1.8" stroke-dasharray="6,4">{title}</path>']
    if layer.kind == "marker" and layer.points:
        x, y = proj.xy(*layer.points[0])
        c = layer.style.get("color", color)
        return [f'<circle class="marker" cx="{x:.1f}" cy="{y:.1f}" r="{layer.style.get("r", 4)}" '
                f'fill="{c}" stroke="#fff" stroke-width="1">{title}</circle>']
    return []


def _anchor(proj: Projection, layer: MapLayer, w: float, h: float, site: Site) -> tuple[float | None, float | None]:
    """Where a layer's label goes: a track's visible point farthest from the site (its way in
    or out), a link's middle, a marker's point."""
    pts = [proj.xy(lat, lon) for lat, lon in layer.points]
    inside = [(x, y) for x, y in pts if 8 <= x <= w - 8 and 8 <= y <= h - 8]
    if not inside:
        return None, None
    if layer.kind == "link":
        return inside[len(inside) // 2]
    if layer.kind == "track":
        sx, sy = proj.xy(site.lat, site.lon)
        return max(inside, key=lambda p: (p[0] - sx) ** 2 + (p[1] - sy) ** 2)
    return inside[0]


def _place(text: str, x: float, y: float, w: float, h: float, placed: list[tuple[float, float, float, float]],
           size: float, bold: bool, color: str) -> list[str]:
    """A label beside (x, y) where it overlaps no earlier label (tried right, left, above,
    below, then shifted); none when nowhere fits (the hover title still names it)."""
    upper = sum(1 for c in text if c.isupper() or c.isdigit())
    tw = (len(text) + 0.25 * upper) * size * (0.62 if bold else 0.58) + 4
    th = size + 3
    for dx, dy in ((8, -6), (-8 - tw, -6), (-tw / 2, -12 - th / 2), (-tw / 2, 10 + th / 2), (8, 10), (8, -20),
                   (-8 - tw, 10), (-8 - tw, -20), (8, 24), (8, -34), (-8 - tw, 24), (-8 - tw, -34)):
        x0, y0 = x + dx, y + dy - th + 3
        if x0 < 2 or x0 + tw > w - 30 or y0 < 2 or y0 + th > h - 24:
            continue
        box = (x0, y0, x0 + tw, y0 + th)
        if any(not (box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]) for b in placed):
            continue
        placed.append(box)
        weight = ' font-weight="bold"' if bold else ' font-weight="600"'
        return [f'<text class="map-label" x="{x0 + 2:.1f}" y="{y0 + th - 3:.1f}" font-size="{size:g}"{weight} '
                f'paint-order="stroke" stroke="#fff" stroke-width="3" fill="{color}">{escape(text)}</text>']
    return []


def _inset(site: Site, main: Projection, layers: Sequence[MapLayer], others: Sequence[Site]
           ) -> tuple[str, tuple[float, float, float, float]]:
    """The site's zones in a corner panel, labelled (the corner with least drawn there);
    returns (SVG, the panel's box on the map)."""
    from shapely.ops import unary_union

    box = unary_union([z.geometry for z in site.zones]).bounds  # (minx, miny, maxx, maxy)
    pad_x = (box[2] - box[0]) * 0.08 + 0.0005
    pad_y = (box[3] - box[1]) * 0.08 + 0.0005
    bb = (box[0] - pad_x, box[1] - pad_y, box[2] + pad_x, box[3] + pad_y)
    proj = _InsetProjection(bb, site.lat, INSET_PX * 0.62)
    pw, ph = INSET_PX, proj.h + 34
    ox = max(6.0, (pw - proj.w) / 2 - 40)  # drawing left of centre, labels to its right
    pts = [main.xy(lat, lon) for layer in layers for lat, lon in layer.points]
    pts += [main.xy(s.lat, s.lon) for s in [site, *others]] * 50  # never over a site
    corners = [(8.0, 8.0), (main.w - pw - 40, 8.0), (8.0, main.h - ph - 30), (main.w - pw - 8, main.h - ph - 30)]

    def crowd(c: tuple[float, float]) -> int:
        return sum(1 for x, y in pts if c[0] - 20 <= x <= c[0] + pw + 20 and c[1] - 20 <= y <= c[1] + ph + 20)

    x0, y0 = min(corners, key=crowd)
    parts = [f'<g class="inset" transform="translate({x0:.0f},{y0:.0f})">',
             f'<rect width="{pw:.0f}" height="{ph:.0f}" fill="#fff" fill-opacity="0.94" stroke="#555"/>',
             f'<text x="5" y="13" font-size="10.5" font-weight="bold">{escape(site.name)}: zones</text>',
             f'<g transform="translate({ox:.0f},18)">']
    placed: list[tuple[float, float, float, float]] = []
    for z in site.zones:
        for d in _geom_paths(proj, dict(mapping(z.geometry))):
            parts.append(f'<path class="zone" d="{d}" fill="{COLORS["site"]}" fill-opacity="0.22" '
                         f'stroke="{COLORS["site"]}"><title>zone {escape(z.name)}</title></path>')
    for z in site.zones:
        c = z.geometry.representative_point()
        x, y = proj.xy(c.y, c.x)
        parts += _place(z.name, x, y, pw - ox + 28, proj.h + 20, placed, 9.5, False, "#4a235a")
    parts.append(_scale_bar(proj, proj.h + 14))
    parts.append("</g></g>")
    return "".join(parts), (x0, y0, x0 + pw, y0 + ph)


class _InsetProjection(Projection):
    def __init__(self, bbox: tuple[float, float, float, float], lat0: float, size: float) -> None:
        self.x0, self.y0, self.x1, self.y1 = bbox
        self.k = math.cos(math.radians(lat0))
        w_deg = (self.x1 - self.x0) * self.k
        h_deg = self.y1 - self.y0
        self.scale = size / max(w_deg, h_deg)
        self.w = w_deg * self.scale
        self.h = h_deg * self.scale


def _scale_bar(proj: Projection, h: float) -> str:
    target_km = proj.km_per_px() * min(120.0, proj.w / 3)
    nice = min((0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500), key=lambda v: abs(v - target_km))
    px = nice / proj.km_per_px()
    text = f"{nice * 1000:.0f} m" if nice < 1 else f"{nice:g} km"
    return (f'<g transform="translate(10,{h - 14:.0f})"><rect width="{px:.1f}" height="4" fill="#333"/>'
            f'<text y="-4" font-size="10">{text}</text></g>')
