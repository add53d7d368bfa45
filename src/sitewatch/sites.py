"""Sites and zones: named places to watch, their watch areas and sub-areas.

A :class:`Site` has a kind (airbase, port, depot, other), a point, a watch area (a
lon/lat polygon, by default a geodesic circle) and named :class:`Zone` polygons inside
it (runway, apron, quay, vehicle park …). Factories build sites from an airport code,
a port name, a point or a GeoJSON file. Geometry is shapely, in lon/lat degrees.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from sitewatch import geo
from sitewatch.errors import InputError

KINDS = ("airbase", "port", "depot", "other")
DEFAULT_RADIUS_KM = {"airbase": 5.0, "port": 3.0, "depot": 2.0, "other": 2.0}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Zone:
    """A named polygon inside a site (apron, quay, vehicle park …)."""

    name: str
    geometry: BaseGeometry
    kind: str = ""

    def contains(self, lat: Any, lon: Any) -> Any:
        """Vectorised point-in-zone test (boundary counts as inside)."""
        return shapely.intersects_xy(self.geometry, np.asarray(lon), np.asarray(lat))


@dataclass(frozen=True)
class Site:
    """A watched place. ``area`` is the watch area; ``zones`` are named sub-areas."""

    name: str
    kind: str
    lat: float
    lon: float
    area: BaseGeometry
    zones: tuple[Zone, ...] = ()
    radius_km: float | None = None
    source: str = ""  # "airportsdata:OSLK", "wpi:45003", "point", "geojson:FILE"
    label: str = ""  # human name, e.g. "Bassel Al-Assad International Airport"
    icao: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_name(self.name)
        if self.kind not in KINDS:
            raise InputError(f"site kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise InputError(f"site {self.name}: point {self.lat},{self.lon} is not a valid lat,lon")

    def contains(self, lat: Any, lon: Any) -> Any:
        """Vectorised point-in-watch-area test."""
        return shapely.intersects_xy(self.area, np.asarray(lon), np.asarray(lat))

    def zone_of(self, lat: Any, lon: Any) -> Any:
        """Name of the first zone containing each point (``None`` where none)."""
        lat_a, lon_a = np.atleast_1d(lat), np.atleast_1d(lon)
        out = np.full(lat_a.shape, None, dtype=object)
        for z in self.zones:
            m = z.contains(lat_a, lon_a) & (out == None)  # noqa: E711 - elementwise on object array
            out[m] = z.name
        return out

    def zone(self, name: str) -> Zone:
        for z in self.zones:
            if z.name == name:
                return z
        from sitewatch.errors import NotFoundError

        raise NotFoundError("zone", name, [z.name for z in self.zones], hint=f"zones of {self.name}")

    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of the watch area."""
        b = self.area.bounds
        return (b[0], b[1], b[2], b[3])

    def with_zone(self, zone: Zone) -> Site:
        if not zone.geometry.within(self.area.buffer(1e-9)):
            raise InputError(
                f"zone {zone.name!r} is not inside the watch area of {self.name}; "
                "enlarge the site (--radius-km) or fix the polygon"
            )
        zones = (*tuple(z for z in self.zones if z.name != zone.name), zone)
        return replace(self, zones=zones)

    def distance_m(self, lat: Any, lon: Any) -> Any:
        return geo.haversine_m(self.lat, self.lon, lat, lon)

    # -- (de)serialisation for sitewatch.toml --------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "lat": self.lat,
            "lon": self.lon,
            "source": self.source,
            "label": self.label,
            "area": _geojson_text(self.area),
        }
        if self.radius_km is not None:
            d["radius_km"] = self.radius_km
        if self.icao:
            d["icao"] = self.icao
        if self.meta:
            d["meta"] = self.meta
        d["zones"] = [
            {"name": z.name, "kind": z.kind, "geometry": _geojson_text(z.geometry)}
            for z in self.zones
        ]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Site:
        zones = tuple(
            Zone(z["name"], shape(json.loads(z["geometry"])), z.get("kind", "")) for z in d.get("zones", [])
        )
        return cls(
            name=d["name"], kind=d["kind"], lat=float(d["lat"]), lon=float(d["lon"]),
            area=shape(json.loads(d["area"])), zones=zones, radius_km=d.get("radius_km"),
            source=d.get("source", ""), label=d.get("label", ""), icao=d.get("icao"),
            meta=dict(d.get("meta", {})),
        )

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection: the watch area (``zone: null``) then each zone."""
        feats = [{
            "type": "Feature",
            "properties": {"site": self.name, "kind": self.kind, "zone": None, "label": self.label},
            "geometry": mapping(self.area),
        }]
        feats += [
            {"type": "Feature", "properties": {"site": self.name, "zone": z.name, "kind": z.kind},
             "geometry": mapping(z.geometry)}
            for z in self.zones
        ]
        return {"type": "FeatureCollection", "features": feats}


def _geojson_text(g: BaseGeometry) -> str:
    # 1e-7 degrees is about 1 cm: plenty for watch areas, and keeps sitewatch.toml readable
    def rnd(x: Any) -> Any:
        return round(x, 7) if isinstance(x, float) else [rnd(v) for v in x]

    m = dict(mapping(g))
    m["coordinates"] = rnd(m["coordinates"])
    return json.dumps(m)


def validate_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InputError(
            f"site/zone name {name!r} must be lowercase letters, digits, '-' or '_' "
            "(up to 64), starting with a letter or digit; e.g. 'hmeimim'"
        )
    return name


def parse_point(text: str) -> tuple[float, float]:
    """Parse ``LAT,LON`` (decimal degrees)."""
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise InputError(f"point {text!r} is not LAT,LON in decimal degrees, e.g. 35.4011,35.9487") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"point {text!r} is out of range (lat -90..90, lon -180..180); is it LON,LAT?")
    return lat, lon


def circle_site(
    name: str, kind: str, lat: float, lon: float, radius_km: float | None = None, **kw: Any
) -> Site:
    r = radius_km if radius_km is not None else DEFAULT_RADIUS_KM[kind]
    if r <= 0 or r > 500:
        raise InputError(f"--radius-km {r} must be in (0, 500]")
    return Site(name, kind, lat, lon, geo.circle(lat, lon, r * 1000.0), radius_km=r, **kw)


def from_airport(name: str, icao: str, radius_km: float | None = None, kind: str = "airbase") -> Site:
    from sitewatch.reference import airports

    a = airports.lookup(icao)
    return circle_site(name, kind, a.lat, a.lon, radius_km, source=f"airportsdata:{a.icao}",
                       label=a.name, icao=a.icao)


def from_port(name: str, query: str, radius_km: float | None = None, kind: str = "port") -> Site:
    from sitewatch.reference import ports

    p = ports.lookup(query)
    return circle_site(name, kind, p.lat, p.lon, radius_km, source=f"wpi:{p.wpi}", label=p.label())


def from_geojson(name: str, path: str | Path, kind: str = "other") -> Site:
    """A site whose area is a (Multi)Polygon, or the union of the un-zoned features of a
    FeatureCollection; features with a ``zone`` property become zones."""
    area, zones = read_geojson_areas(path)
    if area is None:
        if not zones:
            raise InputError("no polygon found", path=str(path))
        area = shapely.union_all([z.geometry for z in zones]).convex_hull
    c = area.centroid
    site = Site(name, kind, c.y, c.x, area, source=f"geojson:{Path(path).name}")
    for z in zones:
        site = site.with_zone(z)
    return site


def read_geojson_areas(path: str | Path) -> tuple[BaseGeometry | None, list[Zone]]:
    """(area, zones) from a GeoJSON file; see :func:`from_geojson`."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", path=str(p)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", path=str(p), offset=exc.lineno) from None
    if not isinstance(doc, dict) or "type" not in doc:
        raise InputError("not a GeoJSON object (no 'type')", path=str(p))
    feats: list[dict[str, Any]]
    if doc["type"] == "FeatureCollection":
        feats = list(doc.get("features") or [])
    elif doc["type"] == "Feature":
        feats = [doc]
    else:
        feats = [{"type": "Feature", "properties": {}, "geometry": doc}]
    areas: list[BaseGeometry] = []
    zones: list[Zone] = []
    for i, f in enumerate(feats):
        try:
            g = shape(f["geometry"])
        except Exception as exc:  # shapely raises several types for bad geometry
            raise InputError(f"feature {i}: invalid geometry ({exc})", path=str(p)) from None
        if not isinstance(g, Polygon | MultiPolygon):
            raise InputError(f"feature {i}: {g.geom_type} is not a Polygon/MultiPolygon", path=str(p))
        if not g.is_valid:
            g = shapely.make_valid(g)
        props = f.get("properties") or {}
        zname = props.get("zone")
        if zname:
            zones.append(Zone(validate_name(str(zname)), g, str(props.get("kind", ""))))
        else:
            areas.append(g)
    area = shapely.union_all(areas) if areas else None
    return area, zones


def zone_from_geojson(zone_name: str, path: str | Path) -> Zone:
    area, zones = read_geojson_areas(path)
    geom = area if area is not None else shapely.union_all([z.geometry for z in zones])
    return Zone(validate_name(zone_name), geom)
