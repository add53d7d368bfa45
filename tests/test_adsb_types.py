"""The types-of-interest table: lookups, watch-type parsing, size matching, ICAO codes real."""

from __future__ import annotations

import json

import pytest
from tests.conftest import shared

from sitewatch.errors import InputError, NotFoundError
from sitewatch.reference import types as T


def test_lookup_and_get() -> None:
    t = T.lookup("a124")
    assert t is not None and t.name.startswith("Antonov An-124") and t.heavy_transport
    assert T.lookup("") is None and T.lookup(None) is None and T.lookup("ZZZZ") is None
    assert T.get("IL76").approach_kt == 140
    with pytest.raises(NotFoundError) as e:
        T.get("A12")
    assert "A124" in str(e.value)


def test_heavy_transports_and_default_watch() -> None:
    heavy = [t.code for t in T.heavy_transports()]
    assert heavy[0] == "A225" and {"A124", "IL76", "C17", "C5M", "A400"} <= set(heavy)
    assert "A321" not in T.DEFAULT_WATCH and "IL76" in T.DEFAULT_WATCH and "AN26" in T.DEFAULT_WATCH


def test_parse_codes() -> None:
    assert T.parse_codes(" a124, IL76,,il76 ") == ("A124", "IL76")
    assert T.parse_codes(None) == ()
    assert T.parse_codes("B789") == ("B789",)
    with pytest.raises(InputError, match="not an ICAO type designator"):
        T.parse_codes("A124,An-124")
    with pytest.raises(NotFoundError):
        T.parse_codes("B789", strict=True)


def test_by_size_ranks_the_right_type_first() -> None:
    best = T.by_size(69.0, 73.0)
    assert best[0][0].code == "A124" and 0.9 < best[0][1] <= 1.0
    # swapped orientation gives the same answer
    assert T.by_size(73.0, 69.0)[0][0].code == "A124"
    assert T.by_size(46.5, 50.5, roles=("strategic-transport",))[0][0].code == "IL76"
    with pytest.raises(InputError):
        T.by_size(0, 10)


def test_all_codes_are_icao_designators() -> None:
    known = json.loads(shared("data/reference/tar1090-db/icao_aircraft_types.json").read_text())
    assert [c for c in T.TYPES if c not in known] == []
    for t in T.TYPES.values():
        assert t.approach_kt < t.cruise_kt and t.length_m > 5 and t.span_m > 5
        assert t.wake in "LMHJ"
