from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitewatch import geo
from sitewatch import sites as S
from sitewatch.errors import AmbiguousError, InputError, NotFoundError
from sitewatch.workspace import Workspace

# Hmeimim air base runway midpoint and the Russian naval facility at Tartus (from imagery)
HMEIMIM = (35.4011, 35.9487)
TARTUS_NAVAL = (34.9070, 35.8720)


def test_airport_oslk_resolves_to_hmeimim() -> None:
    s = S.from_airport("hmeimim", "OSLK")
    assert s.kind == "airbase" and s.icao == "OSLK"
    assert geo.haversine_m(s.lat, s.lon, *HMEIMIM) < 2000
    assert s.radius_km == 5.0
    # the watch area is a circle of that radius: a point 4.9 km away is in, 5.1 km out
    lat_in, lon_in = geo.destination(s.lat, s.lon, 90.0, 4900)
    lat_out, lon_out = geo.destination(s.lat, s.lon, 90.0, 5100)
    assert s.contains(lat_in, lon_in) and not s.contains(lat_out, lon_out)


def test_port_tartus_resolves_to_naval_port() -> None:
    s = S.from_port("tartus", "Tartus")
    assert s.kind == "port"
    assert geo.haversine_m(s.lat, s.lon, *TARTUS_NAVAL) < 2000
    assert "Syria" in s.label


def test_unknown_and_ambiguous_names_list_closest() -> None:
    with pytest.raises(NotFoundError) as e:
        S.from_airport("x", "OSLX")
    assert "OSLK" in str(e.value)
    with pytest.raises(AmbiguousError) as e2:
        S.from_port("x", "Newport")
    assert "United Kingdom" in str(e2.value) and "WPI:" in str(e2.value)
    with pytest.raises(NotFoundError) as e3:
        S.from_port("x", "Tartous")
    assert "Tartus" in str(e3.value)


def test_port_by_country_and_wpi() -> None:
    assert S.from_port("n", "Newport, United Kingdom").label.startswith("Newport (United Kingdom")
    assert S.from_port("t", "WPI:45003").label.startswith("Tartus")


def test_point_site_and_bad_points() -> None:
    lat, lon = S.parse_point("35.10,36.20")
    s = S.circle_site("depot7", "depot", lat, lon, 1.5)
    assert s.contains(35.10, 36.20)
    for bad in ("35.1", "a,b", "95,10", "10,200"):
        with pytest.raises(InputError):
            S.parse_point(bad)
    with pytest.raises(InputError):
        S.circle_site("Bad Name", "depot", 0, 0)


def _square(lon: float, lat: float, d: float) -> list[list[list[float]]]:
    return [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]]


def test_geojson_site_with_zones_and_containment(tmp_path: Path) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": _square(35.95, 35.40, 0.05)}},
            {"type": "Feature", "properties": {"zone": "apron", "kind": "apron"},
             "geometry": {"type": "Polygon", "coordinates": _square(35.94, 35.41, 0.005)}},
            {"type": "Feature", "properties": {"zone": "vehicle-park"},
             "geometry": {"type": "Polygon", "coordinates": _square(35.96, 35.39, 0.005)}},
        ],
    }
    p = tmp_path / "site.geojson"
    p.write_text(json.dumps(fc))
    s = S.from_geojson("hmeimim", p, "airbase")
    assert [z.name for z in s.zones] == ["apron", "vehicle-park"]
    zones = s.zone_of([35.41, 35.39, 35.40, 35.0], [35.94, 35.96, 35.95, 35.0])
    assert list(zones) == ["apron", "vehicle-park", None, None]
    assert list(s.contains([35.41, 35.0], [35.94, 35.0])) == [True, False]
    # a zone outside the area is refused
    far = S.Zone("far", S.shape({"type": "Polygon", "coordinates": _square(10, 10, 0.01)}))
    with pytest.raises(InputError, match="not inside"):
        s.with_zone(far)


def test_bad_geojson_names_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.geojson"
    p.write_text("{not json")
    with pytest.raises(InputError) as e:
        S.from_geojson("x", p)
    assert "bad.geojson" in str(e.value)
    p.write_text(json.dumps({"type": "Point", "coordinates": [1, 2]}))
    with pytest.raises(InputError, match="not a Polygon"):
        S.from_geojson("x", p)


def test_sites_round_trip_through_toml(ws: Workspace) -> None:
    s = S.from_airport("hmeimim", "OSLK", 6)
    z = S.Zone("apron", S.geo.circle(s.lat, s.lon, 500), "apron")
    ws.put_site(s.with_zone(z))
    again = Workspace.open(ws.folder)
    got = again.site("hmeimim")
    assert got.radius_km == 6 and got.zones[0].name == "apron"
    # coordinates are stored to 1e-7 degrees (about 1 cm)
    assert got.area.symmetric_difference(s.area).area < 1e-6 * s.area.area
    with pytest.raises(NotFoundError, match="hmeimim"):
        again.site("hmeimin")
