"""CPR round trips (Hypothesis): encode a position as the spec does, decode it back."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.modes import cpr
from sitewatch.modes._tables import nl


def encode(lat: float, lon: float, odd: int, span: float = 360.0) -> tuple[int, int]:
    """DO-260B §A.1.7.2 CPR encoding with 17-bit resolution."""
    dlat = span / (60 - odd)
    yz = np.floor(131072 * (lat % dlat) / dlat + 0.5)
    rlat = dlat * (yz / 131072 + np.floor(lat / dlat))
    ni = max(int(nl(np.array([rlat]))[0]) - odd, 1)
    dlon = span / ni
    xz = np.floor(131072 * (lon % dlon) / dlon + 0.5)
    return int(yz) & 0x1FFFF, int(xz) & 0x1FFFF


def lon_lsb(lat: float, span: float = 360.0) -> float:
    """One CPR longitude step at ``lat`` (the widest zone, the odd one): the error bound."""
    return span / max(int(nl(np.array([lat]))[0]) - 1, 1) / 131072


lats = st.floats(-85.0, 85.0, allow_nan=False)
lons = st.floats(-179.9, 179.9, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(lats, lons, st.booleans())
def test_airborne_pair_round_trip(lat: float, lon: float, even_newer: bool) -> None:
    e, o = encode(lat, lon, 0), encode(lat, lon, 1)
    la, lo = cpr.airborne_pair(np.array([e[0]], float), np.array([e[1]], float), np.array([o[0]], float),
                               np.array([o[1]], float), np.array([even_newer]))
    if np.isnan(la[0]):  # only at a zone boundary (NL differs between the two latitudes)
        assert nl(np.array([lat + 0.01]))[0] != nl(np.array([lat - 0.01]))[0]
        return
    assert abs(la[0] - lat) < 1e-4 and abs(((lo[0] - lon + 180) % 360) - 180) <= lon_lsb(lat)


@settings(max_examples=150, deadline=None)
@given(lats, lons, st.integers(0, 1), st.floats(-1.0, 1.0), st.floats(-1.0, 1.0))
def test_local_decoding_near_a_reference(lat: float, lon: float, odd: int, dlat: float, dlon: float) -> None:
    y, x = encode(lat, lon, odd)
    la, lo = cpr.airborne_local(np.array([odd]), np.array([y], float), np.array([x], float),
                                np.array([lat + dlat]), np.array([lon + dlon]))
    assert abs(la[0] - lat) < 1e-4 and abs(((lo[0] - lon + 180) % 360) - 180) <= lon_lsb(lat)


@settings(max_examples=100, deadline=None)
@given(st.floats(-80.0, 80.0), lons, st.booleans(), st.floats(-0.3, 0.3), st.floats(-0.3, 0.3))
def test_surface_pair_round_trip(lat: float, lon: float, even_newer: bool, dlat: float, dlon: float) -> None:
    e, o = encode(lat, lon, 0, 90.0), encode(lat, lon, 1, 90.0)
    la, lo = cpr.surface_pair(np.array([e[0]], float), np.array([e[1]], float), np.array([o[0]], float),
                              np.array([o[1]], float), np.array([even_newer]), np.array([lat + dlat]),
                              np.array([lon + dlon]))
    if np.isnan(la[0]):
        return
    assert abs(la[0] - lat) < 3e-5 and abs(((lo[0] - lon + 180) % 360) - 180) <= lon_lsb(lat, 90.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=7, max_size=14), st.floats(0, 600)), min_size=1, max_size=300),
       st.integers(1, 4))
def test_decoder_survives_garbage_in_any_chunking(rows: list[tuple[bytes, float]], chunks: int) -> None:
    """Random bytes (some with valid DF17 CRC by repair) never crash it; fixes stay on Earth."""
    from sitewatch.modes import ModeSDecoder

    msg = np.zeros((len(rows), 14), np.uint8)
    nb = np.zeros(len(rows), np.int8)
    for i, (b, _) in enumerate(rows):
        b = b[:7] if len(b) < 14 else b
        msg[i, : len(b)] = np.frombuffer(b, np.uint8)
        nb[i] = len(b)
    t = np.sort(np.array([x for _, x in rows]))
    dec = ModeSDecoder()
    for part in np.array_split(np.arange(len(rows)), chunks):
        d = dec.decode(msg[part], nb[part], t[part])
        ok = ~np.isnan(d.lat)
        assert (np.abs(d.lat[ok]) <= 90).all() and (np.abs(d.lon[ok]) <= 180).all()
        assert len(d) == part.size


def test_local_decoding_across_the_antimeridian() -> None:
    y, x = encode(10.0, -179.95, 0)
    la, lo = cpr.airborne_local(np.array([0]), np.array([y], float), np.array([x], float),
                                np.array([10.0]), np.array([179.95]))
    assert abs(la[0] - 10.0) < 1e-4 and abs(lo[0] + 179.95) < 1e-4
