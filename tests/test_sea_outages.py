"""A live AIS feed's outage (the aisstream WebSocket down) is coverage, never an AIS gap."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from sitewatch.analytics.base import AnalysisContext
from sitewatch.analytics.sea import gaps
from sitewatch.fusion import evidence as E
from sitewatch.live._outages import OutageBook
from sitewatch.sites import circle_site
from sitewatch.store.db import Store

T0 = datetime(2024, 12, 8, 0, 0, tzinfo=UTC)
AT = (35.0, 20.0)  # open Ionian Sea, > 50 NM from any shore
BOX = (34.5, 35.5, 19.5, 20.5)  # the box the stream watched (lat_min, lat_max, lon_min, lon_max)


def _store(outage_h: tuple[float, float] | None) -> Store:
    """A vessel reporting every 10 min for 12 h, silent 14 h, then reporting again; with an
    outage of the stream from ``outage_h[0]`` to ``outage_h[1]`` hours after the silence began."""
    st = Store(":memory:")
    times = [T0 + timedelta(minutes=10 * k) for k in range(73)]  # 00:00 … 12:00
    silence0 = times[-1]
    times += [silence0 + timedelta(hours=14, minutes=10 * k) for k in range(7)]
    n = len(times)
    st.insert("positions", pa.table({
        "id": ["247000001"] * n, "t_utc": pa.array(times, pa.timestamp("us", tz="UTC")),
        "lat": [AT[0]] * n, "lon": [AT[1] + 0.001 * k for k in range(n)], "speed_kt": [5.0] * n,
        "source": ["ais"] * n, "format": ["test"] * n}), dedupe=False)
    if outage_h is not None:
        book = OutageBook("ais", "aisstream", {"ionian": BOX}, t0_s=0.0, clock=lambda: 0.0)
        book.up("ionian", (silence0 + timedelta(hours=outage_h[0])).timestamp())
        book.down("ionian", (silence0 + timedelta(hours=outage_h[0], seconds=30)).timestamp(), "WebSocket closed")
        book.up("ionian", (silence0 + timedelta(hours=outage_h[1])).timestamp())
        (b,) = book.rows()
        st.insert("feed_outages", b.rows.append_column("file_id", pa.array([1] * b.rows.num_rows, pa.int64())))
    return st


def _gaps(st: Store) -> list[dict[str, object]]:
    t = gaps.ais_gaps(AnalysisContext(st, {}))
    return [{**r, "details": json.loads(r["details"]) if isinstance(r["details"], str) else r["details"]}
            for r in t.to_pylist()]


def test_a_vessel_silent_while_the_stream_was_down_is_no_ais_gap() -> None:
    [alone] = _gaps(_store(None))  # without an outage: a 14 h offshore silence after dense reports
    assert alone["details"]["intentional"] is True and alone["details"]["cause"] == "likely-intentional"
    # the stream was down the whole silence: no gap, no dark event; set apart with the reason
    assert _gaps(_store((0.0, 14.0))) == []
    [apart] = gaps.LAST_SET_APART
    assert apart["subject"] == "247000001" and apart["outage_s"] == pytest.approx(14 * 3600)
    assert "feed outage" in apart["reason"]
    # down for 10 of the 14 h: the 4 h the stream could hear are under the 6 h gap threshold
    assert _gaps(_store((2.0, 12.0))) == []
    # down for 4 h: a gap still (10 h heard), but not intentional (under 12 h heard), and it says why
    [part] = _gaps(_store((0.0, 4.0)))
    d = part["details"]
    assert d["outage_h"] == pytest.approx(4.0) and d["gap_h"] == pytest.approx(14.0)
    assert d["intentional"] is False and d["cause"] == "likely-coverage"
    assert any("could not see" in r for r in d["not_intentional_because"])


def test_the_outage_lowers_the_days_ais_coverage_and_is_not_evidence_itself() -> None:
    site = circle_site("ionian", "other", AT[0], AT[1], 5.0)
    base = {r["evidence_id"]: r for r in E.build(_store(None), site).rows.to_pylist()
            if r["kind"] == "sea.coverage"}
    rows = {r["evidence_id"]: r for r in E.build(_store((0.0, 6.0)), site).rows.to_pylist()}
    cov = {k: r for k, r in rows.items() if r["kind"] == "sea.coverage"}
    assert cov.keys() == base.keys()  # the same days observed: an outage is no day of evidence
    assert {r["kind"] for r in rows.values()} == {"sea.coverage"}  # and nothing but coverage
    day1 = next(r for r in cov.values() if r["t_start"].date() == T0.date())  # outage 12:00–18:00
    ref = json.loads(day1["ref"])
    assert ref["outage_s"] == pytest.approx(6 * 3600) and day1["confidence"] == pytest.approx(0.75)
    assert "could not see the site for 6.0 h" in day1["text"]
    assert all(r["confidence"] == 1.0 for r in base.values())
