"""Every parser under Hypothesis: bad bytes never crash it, and every record is accounted for.

Properties (see ``fuzz/harness.py`` for the driver that checks the first three on every input):

* no exception escapes except documented :class:`~sitewatch.errors.SitewatchError` subclasses;
* every sniffer answers in [0, 1]; every quarantine row has an offset and a non-empty reason;
* each input finishes within the Hypothesis deadline, and the process' peak RSS stays bounded;
* for line formats built from known-good and known-bad lines, every line is either a stored
  record, a quarantine row, or a named counter — nothing is dropped silently.

``SITEWATCH_FUZZ_EXAMPLES`` scales the number of examples (default 40 per target here;
``fuzz/run.py`` runs the coverage-guided atheris targets for longer).
"""

from __future__ import annotations

import json
import os
import resource
from datetime import timedelta
from typing import Any

import pytest
from fuzz import harness as H
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
N = int(os.environ.get("SITEWATCH_FUZZ_EXAMPLES", "40"))
RSS_LIMIT_MB = 600  # peak RSS growth allowed over a whole property test (inputs are ≤ ~8 KiB)
SETTINGS = settings(max_examples=N, deadline=timedelta(seconds=5), derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

NASTY = ["", " ", "nan", "NaN", "inf", "-inf", "-1", "0", "-0", "1e308", "-1e308", "1e-400", "9" * 40,
         "\x00", "é", "\ufeff", '"', "'", "null", "None", "[]", "{}", "2024-13-45", "24:61:61",
         "0x1a", "-999999999999", "4294967296", "ground", "~", "*", ",", ";", "\\", "\t",
         "9999-12-31T23:59:59Z", "0001-01-01", "1970-01-01T00:00:00+25:00", "x" * 300, "1" + "0" * 400]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@st.composite
def mutated_text(draw: st.DrawFn, seed: bytes) -> bytes:
    """A seed with lines duplicated, dropped, cut, and fields swapped for nasty values."""
    lines = seed.decode("utf-8", "replace").split("\n")
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["field", "field", "dup", "drop", "cut", "junk", "swap"]))
        if op == "field":
            parts = lines[i].split(",")
            j = draw(st.integers(0, len(parts) - 1))
            parts[j] = draw(st.sampled_from(NASTY) | st.text(max_size=12))
            lines[i] = ",".join(parts)
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "drop":
            del lines[i]
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
        elif op == "junk":
            lines.insert(i, draw(st.text(max_size=60)))
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return end.join(lines).encode("utf-8", "surrogatepass")


@st.composite
def mutated_bytes(draw: st.DrawFn, seed: bytes) -> bytes:
    """A seed with byte ranges overwritten, inserted, deleted or truncated."""
    b = bytearray(seed)
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(b)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "overwrite"]))
        if op == "flip" and i < len(b):
            b[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            b[i:i] = draw(st.binary(max_size=32))
        elif op == "delete":
            del b[i:i + draw(st.integers(1, 16))]
        elif op == "truncate":
            del b[i:]
        else:
            chunk = draw(st.binary(min_size=1, max_size=16))
            b[i:i + len(chunk)] = chunk
    return bytes(b)


def _json_nasty() -> st.SearchStrategy[Any]:
    scalars = st.sampled_from([None, True, False, 0, -1, 1e308, float("nan"), float("inf"), "", "ground",
                               "x" * 200, 2**64, -(2**63), 10**400, [], {}]) | st.text(max_size=10) | st.floats()
    return st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c,
                                                                                    max_size=4), max_leaves=8)


@st.composite
def mutated_json(draw: st.DrawFn, seed: bytes) -> bytes:
    """A JSON seed with values replaced by nasty JSON (NaN, huge numbers, wrong types) somewhere deep."""
    doc = json.loads(seed)
    for _ in range(draw(st.integers(1, 4))):
        node, key = doc, None
        for _depth in range(draw(st.integers(0, 5))):
            if isinstance(node, dict) and node:
                key = draw(st.sampled_from(sorted(node)))
            elif isinstance(node, list) and node:
                key = draw(st.integers(0, len(node) - 1))
            else:
                break
            if not isinstance(node[key], dict | list):
                break
            node = node[key]
        if isinstance(node, dict | list) and node:
            k = draw(st.sampled_from(sorted(node))) if isinstance(node, dict) else draw(
                st.integers(0, len(node) - 1))
            if draw(st.booleans()):
                node[k] = draw(_json_nasty())
            elif isinstance(node, dict):
                del node[k]
            else:
                node.pop(k)
    return json.dumps(doc).encode()


def inputs(target: H.Target) -> st.SearchStrategy[bytes]:
    seeds = target.seeds()
    seed = st.sampled_from(seeds)
    binary = target.name in ("beast", "geotiff")
    structured = target.name in ("readsb-trace", "readsb-aircraft", "readsb-api", "opensky-api", "stac")
    options: list[st.SearchStrategy[bytes]] = [seed.flatmap(mutated_bytes), st.binary(max_size=512)]
    if not binary:
        options.append(seed.flatmap(mutated_text))
    if structured:
        options.append(seed.flatmap(mutated_json))
    return st.one_of(*options)


@pytest.mark.parametrize("name", sorted(H.TARGETS))
def test_parser_never_crashes_and_quarantines_with_reasons(name: str) -> None:
    target = H.TARGETS[name]
    for s in target.seeds():  # the seeds themselves are good input
        out = H.drive(target, s)
        assert out.error is None and (out.n_rows or target.kind == "config"), (name, out.error)
    for x in H.EXTREME + H.regressions(name):  # inputs that once crashed a parser
        H.drive(target, x)
    rss0 = _rss_mb()

    @SETTINGS
    @given(inputs(target))
    def run(data: bytes) -> None:
        H.drive(target, data)

    run()
    assert _rss_mb() - rss0 < RSS_LIMIT_MB, f"{name}: peak RSS grew {_rss_mb() - rss0:.0f} MB"


# -- accounting: every line becomes a record, a quarantine row, or a named counter ------------

GOOD_SBS = H.SBS[2]
BAD_SBS = ["MSG,3,1,1,4CA2D6,1,2024/12/13,06:00:00.300,2024/12/13,06:00:00.300,,37000,,,95.0,-0.1,,,0,0,0,0",
           "MSG,3,1,1,ZZZZZZ,1,2024/12/13,06:00:00.300,2024/12/13,06:00:00.300,,37000,,,51.5,-0.1,,,0,0,0,0",
           "MSG,3,1,1,4CA2D6,1,2024/13/13,26:00:00.300,2024/12/13,06:00:00.300,,37000,,,51.5,-0.1,,,0,0,0,0",
           "MSG,3,1,1,4CA2D6,1,2024/12/13",
           "MSG,3,1,1,4CA2D6,1,2024/12/13,06:00:00.300,,,,,,,,,,,,,,,,,,,,,,,,",
           '"', 'MSG,3,"x', 'ab"cd']  # a stray quote once swallowed the lines after it
OTHER_SBS = [H.SBS[0], H.SBS[1], H.SBS[3], H.SBS[5]]


@SETTINGS
@given(st.lists(st.sampled_from(["good", "bad", "other"]), min_size=1, max_size=60), st.randoms())
def test_sbs_every_line_accounted(kinds: list[str], rnd: Any) -> None:
    lines = [GOOD_SBS if k == "good" else rnd.choice(BAD_SBS) if k == "bad" else rnd.choice(OTHER_SBS)
             for k in kinds]
    out = H.drive("sbs", ("\n".join(lines) + "\n").encode())
    assert out.error is None
    assert out.rows.get("positions", 0) == kinds.count("good")
    assert len(out.rejects) == kinds.count("bad")
    assert {r.offset for r in out.rejects} == {i + 1 for i, k in enumerate(kinds) if k == "bad"}


@SETTINGS
@given(st.lists(st.one_of(st.sampled_from(H.FRAMES).map(lambda f: ("frame", f)),
                          st.sampled_from([*NASTY, "8D40621D58C3", "ZZ" * 14, "8D40621D58C382D690C8AC2863A7FF"])
                          .map(lambda f: ("badframe", f)),
                          st.text(max_size=30).filter(lambda s: s.strip() and "\n" not in s and "\r" not in s)
                          .map(lambda s: ("junk", s))), min_size=1, max_size=60))
def test_hex_jsonl_every_line_accounted(items: list[tuple[str, str]]) -> None:
    lines = []
    for i, (kind, v) in enumerate(items):
        if kind == "junk":
            lines.append(v)
        else:
            lines.append(json.dumps({"timestamp": 1734069600 + i, "frame": v}))
    out = H.drive("hex", ("\n".join(lines) + "\n").encode())
    if out.error is not None:  # only when the first line is not a JSON object at all
        assert not lines[0].lstrip().startswith("{")
        return
    n = sum(1 for ln in lines if ln.strip())
    assert out.counters.get("frames", 0) + len(out.rejects) == n
    assert out.counters.get("frames", 0) >= sum(1 for k, _ in items if k == "frame")


@SETTINGS
@given(st.lists(st.sampled_from(["frame", "short", "modeac", "status", "garbage", "truncated"]), min_size=1,
                max_size=50), st.randoms())
def test_beast_every_message_accounted(kinds: list[str], rnd: Any) -> None:
    data = bytearray()
    expect = {"frames": 0, "mode_ac": 0, "beast_status": 0, "rejects": 0}
    prev_garbage = False
    prev = ""
    for i, k in enumerate(kinds):
        if k == "garbage" and prev == "truncated":
            continue  # Beast has no length field: bytes after a cut message are read as its payload
        prev = k
        tick = (i * 1_200_000).to_bytes(6, "big").replace(b"\x1a", b"\x1b")
        if k == "garbage":
            if not prev_garbage:
                expect["rejects"] += 1
            data += bytes(rnd.choice([b for b in range(256) if b != 0x1A]) for _ in range(rnd.randint(1, 40)))
        elif k == "truncated":
            body = tick + b"\x80" + bytes.fromhex(H.FRAMES[0])
            data += b"\x1a3" + body[: rnd.randint(0, len(body) - 1)]
            expect["rejects"] += 1
        elif k == "modeac":
            data += b"\x1a1" + tick + b"\x80\x12\x34"
            expect["mode_ac"] += 1
        elif k == "status":
            data += b"\x1a4" + tick + b"\x80" + bytes(14)
            expect["beast_status"] += 1
        else:
            fr = bytes.fromhex(H.FRAMES[5] if k == "short" else rnd.choice(H.FRAMES[:5]))
            data += (b"\x1a2" if len(fr) == 7 else b"\x1a3") + (tick + b"\x80" + fr).replace(b"\x1a", b"\x1a\x1a")
            expect["frames"] += 1
        prev_garbage = k == "garbage"
    out = H.drive("beast", bytes(data))
    assert out.error is None
    got = {"frames": out.counters.get("frames", 0), "mode_ac": out.counters.get("mode_ac", 0),
           "beast_status": out.counters.get("beast_status", 0), "rejects": len(out.rejects)}
    assert got == expect


def _csv_accounting(target: str, header: str, good: list[str], bad: list[str], kinds: list[str], rnd: Any,
                    counted: tuple[str, ...] = ()) -> H.Outcome:
    lines = [header] + [rnd.choice(good) if k == "good" else rnd.choice(bad) for k in kinds]
    out = H.drive(target, ("\n".join(lines) + "\n").encode())
    assert out.error is None, out.error
    stored = out.rows.get("positions", out.rows.get("observations", 0))
    assert stored + len(out.rejects) + sum(out.counters.get(c, 0) for c in counted) == len(kinds)
    assert len(out.rejects) == kinds.count("bad")
    assert sorted(r.offset for r in out.rejects) == [i + 2 for i, k in enumerate(kinds) if k == "bad"]
    return out


KINDS = st.lists(st.sampled_from(["good", "bad"]), min_size=1, max_size=50)


@SETTINGS
@given(KINDS, st.randoms())
def test_marinecadastre_every_row_accounted(kinds: list[str], rnd: Any) -> None:
    bad = ["367000140,2020-06-30T00:02:00,91.0,-74.07,0,0,0,,,,,,,,,,A",
           "ABC,2020-06-30T00:03:00,40.6,-74.07,0,0,0,,,,,,,,,,A",
           "367000140,30/06/2020,40.6,-74.07,0,0,0,,,,,,,,,,A",
           "367000140,2020-06-30T00:04:00,40.6",
           "367000140,2020-06-30T00:04:00,nan,inf,0,0,0,,,,,,,,,,A"]
    _csv_accounting("marinecadastre", H.MC[0], H.MC[1:], bad, kinds, rnd)


@SETTINGS
@given(KINDS, st.randoms())
def test_observations_csv_every_row_accounted(kinds: list[str], rnd: Any) -> None:
    bad = [",hmeimim,x,,,,,", "2024-12-13,,x,,,,,", "2024-12-13,hmeimim,,,,,,",
           "2024-12-13,hmeimim,x,,,,,1.5", "2024-12-13,hmeimim,x,many,,,,", "not a date,hmeimim,x,,,,,"]
    good = [H.OBS_CSV[1].replace("Maxar", f"Maxar{rnd.randint(0, 10**9)}"), H.OBS_CSV[2]]
    _csv_accounting("observations-csv", H.OBS_CSV[0], good, bad, kinds, rnd)


@SETTINGS
@given(KINDS, st.randoms())
def test_positions_csv_every_row_accounted(kinds: list[str], rnd: Any) -> None:
    bad = ["garbage,adsb,4ca2d6,51.5,-0.1,,", "2024-12-13T06:00:00Z,adsb,,51.5,-0.1,,",
           "2024-12-13T06:00:00Z,adsb,4ca2d6,91,-0.1,,", "2024-12-13T06:00:00Z,adsb,4ca2d6"]
    _csv_accounting("positions-csv", H.POSITIONS[0], H.POSITIONS[1:], bad, kinds, rnd)


@SETTINGS
@given(KINDS, st.randoms())
def test_opensky_every_row_accounted(kinds: list[str], rnd: Any) -> None:
    bad = ["1734069600,zz,51.5,-0.1,200,90,0,X,False,False,False,7700,10000,10100,1,1",
           "1734069600,4ca2d6,95.5,-0.1,200,90,0,X,False,False,False,7700,10000,10100,1,1",
           "1734069600,4ca2d6,51.5"]
    _csv_accounting("opensky", H.OPENSKY[0], H.OPENSKY[1:], bad, kinds, rnd, counted=("no_position",))


@SETTINGS
@given(KINDS, st.randoms())
def test_fr24_every_row_accounted(kinds: list[str], rnd: Any) -> None:
    bad = ['notatime,x,RYR1AB,"51.5,-0.1",37000,450,270', '1734069600,x,RYR1AB,"95.5,-0.1",37000,450,270',
           '1734069600,x,RYR1AB,"51.5",37000,450,270', "1734069600,x"]
    _csv_accounting("fr24", H.FR24[0], H.FR24[1:], bad, kinds, rnd)


@SETTINGS
@given(st.lists(st.sampled_from(["good", "badsum", "junk"]), min_size=1, max_size=40))
def test_nmea_every_line_accounted(kinds: list[str]) -> None:
    lines = [H.T1 if k == "good" else H.T1[:-2] + "00" if k == "badsum" else "hello, world" for k in kinds]
    out = H.drive("nmea", ("\n".join(lines) + "\n").encode())
    assert out.error is None
    assert out.rows.get("positions", 0) == kinds.count("good")
    assert len(out.rejects) == len(kinds) - kinds.count("good")
    assert sorted(r.offset for r in out.rejects) == [i + 1 for i, k in enumerate(kinds) if k != "good"]
