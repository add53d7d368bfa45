"""Aircraft type candidates from box size and GSD; size classes."""

from __future__ import annotations

import pytest

from sitewatch.detect import types as T
from sitewatch.errors import InputError
from sitewatch.reference.types import TYPES


def test_an124_box_is_heavy_transport():
    a = TYPES["A124"]
    cands = T.aircraft_candidates(max(a.length_m, a.span_m), min(a.length_m, a.span_m), gsd_m=0.5)
    assert cands[0].type.code in ("A124", "B748", "B744", "B77W", "C5M")
    assert "A124" in [c.type.code for c in cands]
    assert abs(sum(c.likelihood for c in cands) - 1) < 0.05 or len(cands) == T.MAX_CANDIDATES


def test_il76_and_c17_are_flagged_heavy_an26_is_not():
    cands = T.aircraft_candidates(50.5, 46.6, gsd_m=0.5, rotorcraft=False)
    assert cands[0].type.code == "IL76" and T.heavy_transport(cands)
    # an Il-76-sized box is also an A-50 or a Tu-95: the candidates say so
    assert {"A50", "TU95"} <= {c.type.code for c in cands}
    c17 = T.aircraft_candidates(53.0, 51.75, gsd_m=0.5, rotorcraft=False)
    assert c17[0].type.code == "C17" and T.heavy_transport(c17)
    an26 = T.aircraft_candidates(29.2, 23.8, gsd_m=0.5, rotorcraft=False)
    assert an26[0].type.code in ("AN26", "AN24", "AN32", "AN30") and not T.heavy_transport(an26)


def test_small_jet_is_not_heavy_and_far_sizes_give_nothing():
    cands = T.aircraft_candidates(36.0, 34.0, gsd_m=0.5)  # A320 / 737 class
    assert cands and not T.heavy_transport(cands)
    assert {c.type.role for c in cands} & {"airliner", "government", "isr", "tactical-transport"}
    assert T.aircraft_candidates(150.0, 140.0, gsd_m=0.5) == []


def test_helicopters_only_when_asked():
    cands = T.aircraft_candidates(25.0, 21.0, gsd_m=0.5, rotorcraft=True)
    assert cands[0].type.code == "MI8"
    assert all(c.type.rotorcraft for c in cands)


def test_size_classes():
    assert T.size_class("small-vehicle", 4.5) == "car"
    assert T.size_class("large-vehicle", 16.0) == "heavy-truck-or-trailer"
    assert T.size_class("ship", 130.0) == "large-ship"
    assert T.size_class("ship", 9.0) == "boat"
    assert T.size_class("plane", 70.0) == "very-large"
    assert T.size_class("tennis-court", 20.0) is None


def test_bad_sizes_raise():
    with pytest.raises(InputError):
        T.aircraft_candidates(-1, 10, 0.5)
