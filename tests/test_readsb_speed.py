"""The fast readsb path is *exact*: the same rows as the reference reading, on real and SIMULATED traces.

Correctness only (the speed is measured by ``bench/bench_readsb.py``, never here):

* the vectorised trace reader (:mod:`sitewatch.sources.adsb._trace_fast`) against the reference
  loop (:func:`~sitewatch.sources.adsb._trace_cols.from_doc`, the reading of the previous
  release) on the real recorded trace, on SIMULATED traces, and on mutated documents — values
  of the wrong type, extra or missing fields, escapes, layouts readsb does not write — which
  it must either read identically or hand to the reference reader;
* the bulk archive path (one stream, chunks) against per-member ingest of the same tar;
* ``Store.insert``'s de-duplication against the anti-join it replaces.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import shared

from sitewatch.simulate.readsb_trace import HMEIMIM, TraceSpec, compress, specs, trace_bytes
from sitewatch.sources.adsb._trace_docs import read_docs
from sitewatch.sources.adsb.globe import ConcatReader, KeepRule, WatchedArea, read_archive
from sitewatch.sources.base import ReadOptions
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_paths, ingest_stream

REAL = "data/api-samples/adsb-readsb/trace_full_ac671b.json"
KEYS = ["id", "t_utc", "lat", "lon", "rec_offset"]


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(k, "ascending") for k in KEYS if k in t.column_names])


def assert_same(items: list[tuple[str, bytes]], keep: Any = None) -> Any:
    """Fast and reference readings of ``items`` agree on everything; returns the fast result."""
    fast = read_docs(items, "readsb-trace", keep)
    ref = read_docs(items, "readsb-trace", keep, use_fast=False)
    assert ref.read_fast == 0
    a, b = fast.positions, ref.positions
    assert a.rows.schema == b.rows.schema
    assert _sorted(a.rows).equals(_sorted(b.rows)), "positions differ"
    assert a.counters == b.counters
    assert sorted(a.rejects) == sorted(b.rejects)
    assert sorted(fast.reject_docs.tolist()) == sorted(ref.reject_docs.tolist())
    assert fast.failed == ref.failed
    assert fast.kept_docs.tolist() == ref.kept_docs.tolist()
    ac = [x.drop_columns(["t_updated_utc"]) if x is not None else None for x in (fast.aircraft, ref.aircraft)]
    assert (ac[0] is None and ac[1] is None) or (ac[0] is not None and ac[1] is not None and ac[0].equals(ac[1]))
    return fast


def readsb_layout(doc: dict[str, Any], ensure_ascii: bool = True) -> bytes:
    """``doc`` written the way readsb writes a trace (header keys, then one point per line)."""
    head = {k: v for k, v in doc.items() if k != "trace"}
    lines = [json.dumps(p, separators=(",", ":"), ensure_ascii=ensure_ascii) for p in doc["trace"]]
    text = "{" + ",\n  ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in head.items())
    text += ',\n  "trace":[\n' + ",\n".join("    " + ln for ln in lines) + " ]\n}\n"
    return text.encode()


# -- the real recorded trace and SIMULATED ones ---------------------------------------------------

def test_real_trace_reads_identically_and_fast() -> None:
    data = shared(REAL).read_bytes()
    res = assert_same([("trace_full_ac671b.json", data)])
    assert res.read_fast == 1  # readsb's own output: the fast path vouches for it
    assert res.positions.rows.num_rows == 2425 and res.positions.counters["stale_points"] == 75
    # and re-written by json in readsb's layout (same values), still identical
    assert_same([("t.json", readsb_layout(json.loads(data)))])


def test_simulated_traces_read_identically_in_one_chunk() -> None:
    items = [(f"trace_full_{s.icao}.json", trace_bytes(s, seed=3)) for s in specs(40, 300, seed=5)]
    items.append(("real.json", shared(REAL).read_bytes()))
    res = assert_same(items)
    assert res.read_fast == len(items)
    assert res.positions.rows.num_rows > 10_000


@pytest.mark.parametrize("rule", [
    KeepRule((WatchedArea("hmeimim", *HMEIMIM, 6.0),), margin_km=300.0),
    KeepRule((WatchedArea("hmeimim", *HMEIMIM, 6.0),), margin_km=300.0, military_only=True),
    KeepRule((WatchedArea("frankfurt", 50.03, 8.56, 5.0),), margin_km=50.0, watch_anywhere=True,
             types=frozenset({"B739"})),
])
def test_filtered_reading_is_the_same(rule: KeepRule) -> None:
    """The fast path decides on latitudes and longitudes before reading the rest: same aircraft, same rows."""
    items = [(f"trace_full_{s.icao}.json", trace_bytes(s, seed=4)) for s in specs(30, 200, seed=6, near_every=3)]
    items.append(("real.json", shared(REAL).read_bytes()))
    broken = json.loads(trace_bytes(TraceSpec("35aa01", 1733443200.0, *HMEIMIM, 0.0, 20, 3)))
    broken["trace"][2][1] = "35.4"  # a string latitude: read by the reference reader
    items.append(("b.json", readsb_layout(broken)))
    res = assert_same(items, rule)
    assert 0 < len(res.kept_docs) < len(items)
    assert res.positions.counters["not_kept_aircraft"] == len(items) - len(res.kept_docs)


# -- documents the fast path must read identically or hand over ------------------------------------

_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["ground", "adsb_icao", "", "1200", "7700", "x,y", "a]b", "n\u00e9", "q\"t", "{", "  "]),
    st.just({"flight": "SIM123  ", "squawk": "1234"}), st.just({"flight": None}), st.just({"squawk": 7700}),
    st.just({"flight": "ÉTÉ1", "nested": {"flight": "X"}}), st.just([1, 2]), st.just({}))


@st.composite
def mutated_doc(draw: st.DrawFn, at: tuple[float, float] = HMEIMIM) -> tuple[dict[str, Any], bool]:
    spec = TraceSpec("4b1a2c", 1733443200.0, at[0], at[1], 45.0, draw(st.integers(1, 40)), 3)
    doc = json.loads(trace_bytes(spec))
    trace = doc["trace"]
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(trace) - 1))
        p = list(trace[i])
        what = draw(st.sampled_from(["set", "truncate", "extend", "flags"]))
        if what == "set" and p:
            p[draw(st.integers(0, len(p) - 1))] = draw(_VALUES)
        elif what == "truncate":
            p = p[: draw(st.integers(0, len(p)))]
        elif what == "extend":
            p.append(draw(_VALUES))
        elif len(p) > 6:
            p[6] = draw(st.sampled_from([0, 1, 2, 3, 1.5, -1, 2**60, None, "1"]))
        trace[i] = p
    if draw(st.booleans()):
        doc["timestamp"] = draw(st.sampled_from([1733443200, "1733443200.5", None, 1e300]))
    if draw(st.booleans()):
        doc["icao"] = draw(st.sampled_from(["~4b1a2c", "4B1A2C", "nothex", "", 12]))
    return doc, draw(st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_doc())
def test_mutated_documents_read_identically(case: tuple[dict[str, Any], bool]) -> None:
    doc, ascii_only = case
    good = ("ok.json", trace_bytes(TraceSpec("3c4d5e", 1733443200.0, 50.0, 8.0, 10.0, 30, 0)))
    assert_same([good, ("m.json", readsb_layout(doc, ensure_ascii=ascii_only)), good])


FAR = (50.0, 8.0)  # 2,900 km from Hmeimim: the filter's first look drops what it can judge here
HMEIMIM_300 = KeepRule((WatchedArea("hmeimim", *HMEIMIM, 6.0),), margin_km=300.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_doc(at=FAR), mutated_doc(), st.booleans())
def test_mutated_documents_filtered_read_identically(far: tuple[dict[str, Any], bool],
                                                      near: tuple[dict[str, Any], bool], military: bool) -> None:
    """With a filter, a document is first judged on its positions alone: what it drops, and every
    count, must be what the reference reader and its filter give, whatever the document holds."""
    rule = KeepRule((WatchedArea("hmeimim", *HMEIMIM, 6.0),), margin_km=300.0, military_only=military)
    good = ("ok.json", trace_bytes(TraceSpec("3c4d5e", 1733443200.0, *FAR, 10.0, 30, 0)))
    assert_same([good, ("f.json", readsb_layout(far[0], ensure_ascii=far[1])),
                 ("n.json", readsb_layout(near[0], ensure_ascii=near[1])), good], rule)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_doc(), st.booleans(), st.booleans())
def test_a_mutated_document_read_alone(case: tuple[dict[str, Any], bool], ascii_only: bool, filtered: bool) -> None:
    """The document is all the chunk holds (a one-member tar, or what the filter's first look
    leaves): nothing around it keeps the reader's arrays well-formed."""
    assert_same([("m.json", readsb_layout(case[0], ensure_ascii=ascii_only))], HMEIMIM_300 if filtered else None)


def test_the_first_look_judges_only_plain_points() -> None:
    """Far aircraft in readsb's layout are dropped on their positions alone; a document whose
    first three fields are not all numbers or null, or with two points on a line, is left to the
    full reading (which then drops it, or hands it to the reference reader)."""
    from sitewatch.sources.adsb import _trace_fast as fast
    from sitewatch.sources.adsb._trace_docs import _info

    def first_look(*texts: bytes) -> list[bool]:
        docs = [fast.split(t) for t in texts]
        assert all(d is not None for d in docs)
        info = _info([d.header for d in docs])  # type: ignore[union-attr]
        early, lines = fast._not_kept(fast._Joined.of(docs), lambda p: HMEIMIM_300(p, info))  # type: ignore[arg-type]
        assert lines.tolist() == [t.count(b"\n    [") for t in texts]
        return early.tolist()

    far = trace_bytes(TraceSpec("3c4d5e", 1733443200.0, *FAR, 10.0, 30, 0))
    near = trace_bytes(TraceSpec("4b1a2c", 1733443200.0, *HMEIMIM, 45.0, 30, 3))
    assert first_look(far, near) == [True, False]
    doc = json.loads(far)
    doc["trace"][4][0] = ",35.40,35.95,"  # a string holding commas where the time belongs
    assert first_look(readsb_layout(doc), far) == [False, True]
    assert first_look(far.replace(b"],\n    [", b"],[", 1)) == [False]  # two points on one line
    doc = json.loads(far)
    doc["trace"][7][2] = None  # no longitude: judged on the other points
    assert first_look(readsb_layout(doc)) == [True]


@pytest.mark.parametrize("point", [
    "[0.0,35.4011]",  # fewer than eight fields
    '[0.0,35.4011,35.9486,"ground",8.7,44.2,0,null,null,null,null,null,null,null]',  # no source type
    '[0.0,35.4011,35.9486,"ground",8.7,44.2,0,null,null,5,null,null,null,null]',  # a number there
])
def test_a_lone_odd_point_is_read_not_refused_by_arrow(point: str) -> None:
    """A document (or what the filter leaves of a chunk) whose only point is odd: its text spans
    for Arrow once ended before they began, and the whole read failed."""
    text = ('{"icao":"4b1a2c",\n  "timestamp":1733443200.0,\n  "trace":[\n    ' + point + " ]\n}\n").encode()
    far = ("far.json", trace_bytes(TraceSpec("3c4d5e", 1733443200.0, *FAR, 10.0, 30, 0)))
    for items in ([("x.json", text)], [far, ("x.json", text), far]):
        assert_same(items)
        assert_same(items, HMEIMIM_300)


@pytest.mark.parametrize("edit", [
    lambda t: t.replace(b"],\n    [", b"],[", 1),  # two points on one line
    lambda t: t.replace(b"\n", b"\r\n"),  # CRLF
    lambda t: t.replace(b"\n    [", b"\n      [", 1),  # another indentation
    lambda t: t.replace(b",", b", ", 3),  # spaces after commas
    lambda t: t.replace(b'"trace":[', b'"trace": [', 1),
    lambda t: t.replace(b" ]\n}", b" ],\n  \"extra\":1\n}", 1),  # a key after the trace
    lambda t: t[: len(t) // 2],  # cut short
    lambda t: t.replace(b'"flight":"', b'"flight" : "', 1),  # (the one leniency: read as "no flight")
])
@pytest.mark.parametrize("at", [(35.0, 36.0), FAR])
def test_layouts_readsb_does_not_write(edit: Any, at: tuple[float, float]) -> None:
    text = edit(trace_bytes(TraceSpec("4b1a2d", 1733443200.0, *at, 0.0, 50, 3)))
    items = [("x.json", text)]
    if b'"flight" : "' in text:  # documented leniency: readsb never writes it; the count still agrees
        fast = read_docs(items, "readsb-trace")
        ref = read_docs(items, "readsb-trace", use_fast=False)
        assert fast.positions.rows.num_rows == ref.positions.rows.num_rows
        return
    assert_same(items)
    assert_same(items, HMEIMIM_300)


# -- the archive path ------------------------------------------------------------------------------

def _tar(path: Path, codec: str = "gzip") -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        members = [(f"traces/{int(s.icao, 16) % 256:02x}/trace_full_{s.icao}.json", trace_bytes(s))
                   for s in specs(30, 200, seed=9)]
        members.append(("traces/1b/trace_full_ac671b.json", shared(REAL).read_bytes()))
        bad = json.loads(trace_bytes(TraceSpec("7e7e7e", 1733443200.0, 10.0, 10.0, 0.0, 20, 0)))
        bad["trace"][3] = ["x", None]
        bad["trace"][5][1] = 95.0  # latitude out of range: a reject
        members.append(("traces/7e/trace_full_7e7e7e.json", readsb_layout(bad)))
        for name, data in members:
            blob = compress(data, codec)
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("workers,chunk", [(0, 48 << 20), (2, 200_000)])
def test_archive_path_equals_per_member_ingest(tmp_path: Path, workers: int, chunk: int) -> None:
    tar = tmp_path / "day.tar"
    _tar(tar)
    per_member = Store(":memory:")
    s = ingest_paths(per_member, "adsb", [tar])
    assert s.failed_files == 0
    bulk = Store(":memory:")
    with ConcatReader([tar]) as r:
        res = ingest_stream(bulk, "adsb", str(tar), "digest", "readsb-trace",
                            read_archive(r, str(tar), KeepRule(keep_all=True), workers, chunk), ReadOptions())
    assert res.accepted == s.accepted and res.rejected == s.rejected == 2
    cols = "t_utc, source, id, lat, lon, alt_ft, speed_kt, track_deg, onground, vrate_fpm, callsign, squawk, " \
           "status, format, rec_offset"
    q = f"SELECT {cols} FROM positions ORDER BY id, t_utc, lat, lon"
    assert per_member.arrow(q).equals(bulk.arrow(q))
    qq = "SELECT path, rec_offset, offset_unit, raw, reason FROM quarantine ORDER BY path, rec_offset"
    assert per_member.rows(qq) == bulk.rows(qq)
    ac = "SELECT * EXCLUDE (t_updated_utc) FROM aircraft ORDER BY icao24"
    assert per_member.rows(ac) == bulk.rows(ac)


# -- the store's insert ----------------------------------------------------------------------------

def _old_insert(store: Store, table: str, data: pa.Table) -> int:
    """The de-duplicating insert this release replaced (DISTINCT ON + anti-join), for comparison."""
    from sitewatch import schema as S

    decl = S.table(table)
    data = S.conform(table, data)
    key = ", ".join(f'"{k}"' for k in decl.key)
    on = " AND ".join(f'b."{k}" IS NOT DISTINCT FROM t."{k}"' for k in decl.key)
    before = store.count(table)
    with store.registered("_b", data) as con:
        con.execute(f'INSERT INTO "{table}" SELECT b.* FROM (SELECT DISTINCT ON ({key}) * FROM _b) b '
                    f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE {on})')
    return store.count(table) - before


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.sampled_from([0.0, -0.0, 1.5, 2.5])),
                min_size=1, max_size=60),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.sampled_from([0.0, 1.5])), max_size=30))
def test_insert_dedupes_like_the_anti_join(batch: list[tuple[int, int, float]],
                                           existing: list[tuple[int, int, float]]) -> None:
    def table(rows: list[tuple[int, int, float]]) -> pa.Table:
        n = len(rows)
        return pa.table({
            "t_utc": pa.array([1733443200_000000 + r[1] * 1_000_000 for r in rows], pa.timestamp("us", tz="UTC")),
            "source": ["adsb"] * n, "id": [f"{r[0]:06x}" for r in rows],
            "lat": [r[2] for r in rows], "lon": [r[2] * 2 for r in rows],
            "alt_ft": pa.array(np.arange(n, dtype=float)),
        })

    new, old = Store(":memory:"), Store(":memory:")
    for s in (new, old):
        s.insert("positions", table(existing), dedupe=False)
    got = new.insert("positions", table(batch))
    want = _old_insert(old, "positions", table(batch))
    assert got == want
    q = "SELECT t_utc, source, id, lat, lon FROM positions ORDER BY ALL"
    assert new.sql(q) == old.sql(q)
    # the rows kept from a batch are its first occurrences
    first = {}
    for i, r in enumerate(batch):
        first.setdefault((r[0], r[1], r[2] + 0.0), i)
    kept = {int(v) for (v,) in new.sql("SELECT alt_ft FROM positions WHERE alt_ft IS NOT NULL AND file_id IS NULL")}
    assert kept <= set(first.values()) | set(range(len(existing)))


def test_inflate_takes_and_refuses_what_zlib_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # gzip members are inflated with ISA-L where python-isal is installed, zlib elsewhere: the same
    # JSON text out of every whole member, and the same refusal (with the same message) of every
    # cut, corrupt or oversized one, whichever is used
    import random
    import zlib

    from sitewatch.sources.adsb import globe

    text = trace_bytes(next(iter(specs(1, 3000, seed=3))), 3)
    whole = compress(text, "gzip")
    rng = random.Random(7)
    cases = [whole, whole[:-4], whole[:len(whole) // 2], whole[:10]]
    for _ in range(60):
        b = bytearray(whole)
        i = rng.randrange(10, len(b))
        b[i] ^= 1 << rng.randrange(8)
        cases.append(bytes(b))

    def outcome(data: bytes, limit: int) -> tuple[str, bytes | str]:
        try:
            return "ok", globe.decompress(data, "m", limit)
        except ValueError as exc:
            return "refused", str(exc).split(" (")[0]  # zlib's and ISA-L's own wording differ in brackets

    got = [outcome(c, 1 << 22) for c in cases] + [outcome(whole, 1000)]
    assert globe._inflate is not zlib, "python-isal is a dependency: it should be installed here"
    monkeypatch.setattr(globe, "_inflate", zlib)
    monkeypatch.setattr(globe, "_INFLATE_ERRORS", (zlib.error,))
    assert [outcome(c, 1 << 22) for c in cases] + [outcome(whole, 1000)] == got
    assert got[0] == ("ok", text)
    assert all(k == "refused" for k, _ in got[1:])  # a flipped bit past the header fails the CRC if nothing else
