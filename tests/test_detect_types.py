"""Aircraft identification from box size: bias-corrected measurement, ± error, only in-service fits."""

from __future__ import annotations

import pytest

from sitewatch.detect import types as T
from sitewatch.errors import InputError
from sitewatch.reference.types import TYPES, by_size, short_name


def _box(code: str, bias: T.SizeBias = T.LARGE_BIAS) -> tuple[float, float]:
    """The box the detector draws, on average, around a type's silhouette (long side first)."""
    t = TYPES[code]
    a, b = max(t.length_m, t.span_m) * bias.long, min(t.length_m, t.span_m) * bias.short
    return max(a, b), min(a, b)


def test_an124_box_fits_several_types_and_names_none():
    # what the detector drew around the simulator's An-124 silhouette (0.5 m scene, 1.25 m pass)
    ident = T.identify_aircraft(82.0, 75.5, gsd_m=0.5, work_gsd_m=1.25)
    codes = [t.code for t in ident.fits]
    assert "A124" in codes and {"C5M", "B744"} <= set(codes)  # same footprint within a few metres
    assert ident.named is None and ident.heavy_transport is None  # airlifters and airliners alike
    assert "A225" not in codes and ident.fits_not_in_service == ()
    assert ident.label == "very large transport aircraft (≈ 74 m)"
    m = ident.measured
    assert abs(m.long_m - 73.3) < 1 and abs(m.short_m - 68.96) <= m.short_err_m  # truth within the error
    assert T.identify_aircraft(*_box("A124"), gsd_m=0.5, work_gsd_m=1.25).named is None


def test_an225_is_never_a_fit_it_no_longer_flies():
    assert TYPES["A225"].status == "destroyed" and not TYPES["A225"].in_service
    ident = T.identify_aircraft(*_box("A225"), gsd_m=0.5, work_gsd_m=1.25)
    assert "A225" not in [t.code for t in ident.fits]
    assert [t.code for t in ident.fits_not_in_service] == ["A225"]
    assert ident.as_json()["fits_not_in_service"][0]["status"] == "destroyed"
    assert "A225" not in [t.code for t, _ in by_size(84.0, 88.4)]
    assert by_size(84.0, 88.4, only_in_service=False)[0][0].code == "A225"


def test_the_demo_il76_measurement_is_not_a_dc10():
    # what the detector drew around the simulator's Il-76 silhouette (0.5 m scene, 1.25 m pass)
    ident = T.identify_aircraft(54.5, 50.7, gsd_m=0.5, work_gsd_m=1.25)
    codes = [t.code for t in ident.fits]
    assert "IL76" in codes and ident.named is None and len(codes) > 3
    assert ident.label == "large aircraft (≈ 49 m)"  # a Tu-95 and an E-3 fit too: not "transport"
    j = ident.as_json()
    assert j["named"] is None and j["measured"]["long_err_m"] > 0 and j["measured"]["work_gsd_m"] == 1.25


def test_one_fit_names_the_type():
    ident = T.identify_aircraft(40.0, 32.0, gsd_m=0.3, work_gsd_m=0.3, rotorcraft=True)
    assert ident.named is not None and ident.named.code == "MI26"
    assert ident.label == "Mi-26 (≈ 40 m)" and ident.as_json()["named"]["type"] == "MI26"
    assert ident.size_words == "large helicopter"


def test_error_is_two_sigma_of_bias_spread_and_pixels():
    fine = T.measure_aircraft(*_box("IL76"), gsd_m=0.3, work_gsd_m=0.3)
    coarse = T.measure_aircraft(*_box("IL76"), gsd_m=0.3, work_gsd_m=3.0)
    assert coarse.long_err_m > fine.long_err_m
    assert fine.long_err_m == pytest.approx(2 * ((0.04 * fine.long_m) ** 2 + (1.5 * 0.3) ** 2) ** 0.5)
    assert coarse.work_gsd_m == 3.0 and T.measure_aircraft(50, 40, 2.0, 1.25).work_gsd_m == 2.0  # never finer


def test_bias_blends_from_light_to_large_aircraft():
    assert T.plane_bias(10.0) == T.LIGHT_BIAS and T.plane_bias(45.0) == T.LARGE_BIAS
    mid = T.plane_bias(22.5)
    assert T.LIGHT_BIAS.long < mid.long < T.LARGE_BIAS.long
    light = T.measure_aircraft(11.6, 8.7, gsd_m=0.27)
    assert light.long_m == pytest.approx(11.6 / T.LIGHT_BIAS.long)
    assert T.identify_aircraft(11.6, 8.7, gsd_m=0.27).label == "light aircraft (≈ 11 m)"


def test_small_jet_is_not_heavy_and_far_sizes_give_nothing():
    ident = T.identify_aircraft(*_box("A320"), gsd_m=0.5, work_gsd_m=1.25)
    assert ident.fits and ident.heavy_transport is False and ident.named is None
    far = T.identify_aircraft(150.0, 140.0, gsd_m=0.5)
    assert far.fits == () and far.named is None and far.label.startswith("very large aircraft")


def test_heavy_transport_only_when_every_fit_is_one():
    c17 = T.AircraftId(T.measure_aircraft(60, 60, 0.5), (TYPES["C17"], TYPES["IL76"]), (), "large")
    assert c17.heavy_transport is True
    assert T.AircraftId(T.measure_aircraft(60, 60, 0.5), (), (), "large").heavy_transport is None


def test_helicopters_only_when_asked():
    ident = T.identify_aircraft(25.0, 21.0, gsd_m=0.3, rotorcraft=True)
    assert "MI8" in [t.code for t in ident.fits]
    assert all(t.rotorcraft for t in ident.fits)
    assert not any(t.rotorcraft for t in T.identify_aircraft(*_box("IL76"), gsd_m=0.5).fits)


def test_short_names():
    assert [short_name(TYPES[c]) for c in ("A124", "IL76", "C5M", "B744", "B38M", "RFAL", "DH8D")] == [
        "An-124", "Il-76", "C-5M", "Boeing 747-400", "Boeing 737 MAX 8", "Rafale", "Dash 8-400"]


def test_size_classes():
    assert T.size_class("small-vehicle", 4.5) == "car"
    assert T.size_class("large-vehicle", 16.0) == "heavy-truck-or-trailer"
    assert T.size_class("ship", 130.0) == "large-ship"
    assert T.size_class("ship", 9.0) == "boat"
    assert T.size_class("plane", 70.0) == "very-large"
    assert T.size_class("tennis-court", 20.0) is None


def test_bad_sizes_raise():
    with pytest.raises(InputError):
        T.identify_aircraft(-1, 10, 0.5)
    with pytest.raises(InputError):
        T.measure_aircraft(10, 10, 0.5, work_gsd_m=0)
