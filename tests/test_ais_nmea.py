"""NMEA reader: envelopes, times, reassembly, checksum policy, quarantine, names — on real and crafted lines."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import reduce
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import shared
from sitewatch.sources.base import Batch, ReadOptions, detect, iter_inputs
from sitewatch.store.ingest import ingest_paths
from sitewatch.workspace import Workspace

START = datetime(2024, 12, 8, tzinfo=UTC)
T1 = "!AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0*09"  # type 1, MMSI 367309370
T5 = ("!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
      "!AIVDM,2,2,1,A,88888888880,2*25")  # type 5, MMSI 351759000, EVER DIADEM


def _nmea(body: str) -> str:
    """A sentence with its checksum: ``_nmea('AIVDM,1,1,,A,…,0')`` → ``!AIVDM,…*hh``."""
    return f"!{body}*{reduce(lambda a, c: a ^ ord(c), body, 0):02X}"


def _read(path: Path, **opts: Any) -> list[Batch]:
    src = next(iter_inputs([path]))
    reader = detect("ais", src)
    assert reader.name == "nmea"
    extra = {k: opts.pop(k) for k in list(opts) if k == "keep_bad_checksum"}
    return list(reader.read(src, ReadOptions(extra=extra, **opts)))


def _rows(batches: list[Batch], table: str = "positions") -> list[dict[str, Any]]:
    tabs = [b.rows for b in batches if b.table == table]
    return pa.concat_tables(tabs).to_pylist() if tabs else []


def _reasons(batches: list[Batch]) -> Counter[str]:
    return Counter(r.reason for b in batches for r in b.rejects)


def _counter(batches: list[Batch], name: str) -> int:
    return sum(b.counters.get(name, 0) for b in batches)


def test_real_sample_malformed_lines_are_quarantined_not_fatal() -> None:
    batches = _read(shared("data/ais/pyais-samples/nmea_data_sample.txt"), start=START)
    rows = _rows(batches)
    reasons = _reasons(batches)
    assert reasons["empty payload"] == 100
    assert sum(v for k, v in reasons.items() if k.startswith("incomplete multi-sentence")) == 20
    assert sum(reasons.values()) == 120
    assert len(rows) == 758 and all(r["time_inferred"] for r in rows)
    assert rows[0]["t_utc"] == START  # line 1 of the file, --start exactly
    # 668 type 1 lines, one of them an orphaned first fragment (line 560, quarantined)
    assert _counter(batches, "msg_type_1") == 667 and _counter(batches, "not_decoded_type_15") == 7
    assert all(-90 <= r["lat"] <= 90 and len(r["id"]) == 9 for r in rows)


def test_without_any_time_the_lines_are_quarantined_with_a_hint() -> None:
    batches = _read(shared("data/ais/pyais-samples/messages.ais"))
    assert not _rows(batches)
    assert _reasons(batches) == {"no time in the line or before it in the file; pass --start T": 6}


def test_gatehouse_times_and_carry_forward() -> None:
    batches = _read(shared("data/ais/pyais-samples/gatehouse.nmea"))
    rows = _rows(batches)
    assert [r["id"] for r in rows] == ["367309370", "413355820", "445451000", "412764890"]
    assert rows[0]["t_utc"] == datetime(2008, 5, 9, 0, 0, 0, 10000, tzinfo=UTC) and not rows[0]["time_inferred"]
    assert rows[1]["t_utc"] == rows[0]["t_utc"] and rows[1]["time_inferred"]  # carried forward
    # the 2009 $PGHP line was edited without its checksum (*17 is the 2008 line's): not trusted
    assert _counter(batches, "pghp_bad_checksum") == 1
    assert rows[2]["t_utc"] == rows[0]["t_utc"] and rows[2]["time_inferred"]


def test_mixed_file_tag_blocks_multisentence_and_garbage() -> None:
    batches = _read(shared("data/ais/pyais-samples/mixed.txt"))
    reasons = _reasons(batches)
    assert reasons["not an NMEA sentence"] == 2  # 'foobar', 'IamNotAnAisMessage1111'
    assert reasons["checksum mismatch (or no *hh checksum)"] == 1  # '...,013' has no *hh
    assert _counter(batches, "other_nmea_sentences") == 4  # $GPGGA, $GPRTE, $GPR00, $IIMWV
    # counted, and quarantined with a reason: nothing is silently counted away
    assert [k for k in reasons if k.startswith("not an AIS")] == [
        "not an AIS sentence ($GPGGA)", "not an AIS sentence ($GPRTE)", "not an AIS sentence ($GPR00)",
        "not an AIS sentence ($IIMWV)"]
    reports = _rows(batches, "vessel_reports")
    names = {r["mmsi"]: r for r in reports}
    assert names["351759000"]["name"] == "EVER DIADEM" and names["351759000"]["imo"] == 9134270
    assert names["351759000"]["length_m"] == 295.0 and names["351759000"]["destination"] == "NEW YORK"
    # the 2-sentence !SAVDM type 5 inside tag blocks, time from c:1428621738
    assert names["366989380"]["t_utc"] == datetime.fromtimestamp(1428621738, UTC)
    assert not names["366989380"]["time_inferred"]


def test_logger_prefixes_trailing_epoch_and_interleaved_fragments(tmp_path: Path) -> None:
    p = tmp_path / "log.nmea"
    p.write_text("\n".join([
        f"2024-12-08T06:00:00.5Z {T5[0]}",
        f"1733637601.25,{T1}",
        _nmea("AIVDM,2,1,1,B,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0"),
        T5[1],
        _nmea("AIVDM,2,2,1,B,88888888880,2"),
        f"{T1},1733637700",
        "2024-12-08 06:05:00;" + T1,
        "yesterday " + T1,
    ]) + "\n")
    batches = _read(p)
    rows = _rows(batches)
    assert [r["t_utc"].isoformat() for r in rows] == [
        "2024-12-08T06:00:01.250000+00:00", "2024-12-08T06:01:40+00:00", "2024-12-08T06:05:00+00:00"]
    assert not any(r["time_inferred"] for r in rows)
    reports = _rows(batches, "vessel_reports")  # both channels' messages completed
    assert [(r["mmsi"], r["t_utc"].isoformat()) for r in reports] == [
        ("351759000", "2024-12-08T06:00:00.500000+00:00"), ("351759000", "2024-12-08T06:00:01.250000+00:00")]
    assert _reasons(batches) == {"unrecognised text before the sentence (not a timestamp)": 1}


def test_bad_checksum_policy(tmp_path: Path) -> None:
    p = tmp_path / "bad.nmea"
    p.write_text(T1.replace("*09", "*0A") + "\n" + T1 + "\n")
    dropped = _read(p, start=START)
    assert len(_rows(dropped)) == 1 and _counter(dropped, "checksum_bad") == 1
    assert _reasons(dropped) == {"checksum mismatch (or no *hh checksum)": 1}
    kept = _read(p, start=START, keep_bad_checksum=True)
    assert len(_rows(kept)) == 2 and _counter(kept, "checksum_bad") == 1 and not _reasons(kept)


def test_names_onground_and_orphan_fragments(tmp_path: Path) -> None:
    enc = pytest.importorskip("pyais").encode_dict
    moored = enc({"type": 1, "mmsi": 351759000, "status": 5, "lat": 35.1, "lon": 35.9, "speed": 0.1,
                  "course": 90.0, "heading": 90})[0]
    underway = enc({"type": 1, "mmsi": 351759000, "status": 0, "lat": 35.2, "lon": 35.8, "speed": 12.0,
                    "course": 270.0, "heading": 271})[0]
    p = tmp_path / "names.nmea"
    p.write_text("\n".join([moored, *T5, underway, T5[0]]) + "\n")
    batches = _read(p, start=START)
    rows = _rows(batches)
    assert [(r["callsign"], r["status"], r["onground"]) for r in rows] == [
        (None, "moored", True), ("EVER DIADEM", "under way using engine", False)]
    assert rows[1]["speed_kt"] == 12.0 and rows[1]["track_deg"] == 270.0 and rows[1]["heading_deg"] == 271.0
    assert _reasons(batches) == {
        "incomplete multi-sentence message (fragment 1 of 2; the input ended)": 1}


def test_ingest_nmea_into_the_store(ws: Workspace) -> None:
    path = shared("data/ais/pyais-samples/nmea_data_sample.txt")
    s = ingest_paths(ws.store, "ais", [path], opts=ReadOptions(start=START))
    assert s.accepted == 758 + 2 - s.duplicates and s.rejected == 120
    assert ws.store.count("quarantine") == 120
    stats = dict(ws.store.sql("SELECT name, value FROM ingest_stats"))
    assert stats["msg_type_1"] == 667 and stats["checksum_bad"] == 0


def _tag(body: str) -> str:
    return f"\\{body}*{reduce(lambda a, c: a ^ ord(c), body, 0):02X}\\"


@pytest.mark.parametrize("seed", range(6))
def test_columnar_joining_equals_the_assembler_across_chunks(seed: int) -> None:
    """Random interleavings of multi-sentence fragments (some complete, some orphaned, some
    regular, some irregular lines, one key open across a chunk boundary) joined by the reader,
    chunk by chunk, give exactly what the one-by-one Assembler gives."""
    import random

    from sitewatch.sources.ais._sentences import Assembler, Fragment
    from sitewatch.sources.ais.nmea import NmeaParser

    rnd = random.Random(seed)
    payload = "15NBj>PP1gG>1PVKTDTUJOv00<0M"  # type 1: a position once joined
    lines: list[str] = []
    frags: list[Fragment] = []
    state: dict[tuple[str, str], tuple[int, int]] = {}
    for _ in range(600):
        key = (rnd.choice(["", "1", "2", "3"]), rnd.choice(["A", "B"]))
        num, cnt = state.get(key, (0, rnd.choice([2, 3])))
        if rnd.random() < 0.8:
            num, cnt = (num + 1, cnt) if num < cnt else (1, rnd.choice([2, 3]))
        else:  # out of order, or a new count: leaves an orphan
            cnt = rnd.choice([2, 3])
            num = rnd.randint(1, cnt)
        state[key] = (num, cnt)
        cut = [0, 14, 28] if cnt == 2 else [0, 9, 19, 28]
        piece = payload[cut[num - 1]:cut[num]]
        body = f"AIVDM,{cnt},{num},{key[0]},{key[1]},{piece},0"
        sentence = _nmea(body)
        style = rnd.random()
        if style < 0.15:
            line = sentence + ",1733637600"  # trailing time: the irregular path
        elif style < 0.3:
            line = _tag("c:1733637600") + sentence
        else:
            line = sentence
        lines.append(line)
        k = (int.from_bytes(key[0].encode(), "big") if key[0] else -1, ord(key[1]))
        frags.append(Fragment(len(lines), sentence.encode(), cnt, num, piece.encode(), 0, 0.0, True, k, len(lines)))
    # the reference: every fragment through the Assembler, in line order
    asm = Assembler()
    want_msgs, want_orphans = set(), set()
    for f in frags:
        done, dropped = asm.add(f.key, f)
        want_orphans |= {g.line for g in dropped}
        if done:
            assert b"".join(g.payload for g in done) == payload.encode()
            want_msgs.add(done[0].line)
    want_orphans |= {f.line for f in asm.flush()}
    # the reader, in random chunks of whole lines
    parser = NmeaParser(start_s=START.timestamp())
    got_msgs: set[int] = set()
    got_orphans: set[int] = set()
    i = 0
    while i < len(lines):
        j = min(len(lines), i + rnd.randint(1, 120))
        r = parser.feed(("\n".join(lines[i:j]) + "\n").encode(), i + 1)
        got_msgs |= set(r.positions.column("rec_offset").to_pylist())
        assert all(x.reason.startswith("incomplete multi-sentence") for x in r.rejects)
        got_orphans |= {x.offset for x in r.rejects}
        i = j
    got_orphans |= {x.offset for x in parser.flush()}
    assert len(want_msgs) > 20 and len(want_orphans) > 20
    assert got_msgs == want_msgs
    assert got_orphans == want_orphans


# -- AISHub receiver suffix, $AIVDM, sentences that are not AIS --------------------------------------

AISHUB_T = datetime(2012, 7, 18, 0, 0, tzinfo=UTC)  # 1342569600


def _dollar(body: str) -> str:
    """The non-encapsulated form: ``$AIVDM,…*hh`` (same checksum rule)."""
    return "$" + _nmea(body)[1:]


@pytest.mark.parametrize("copies", [1, 300])  # a few lines one by one, many as columns
def test_aishub_receiver_suffix_gives_the_time(tmp_path: Path, copies: int) -> None:
    p = tmp_path / "aishub.nmea"
    lines = []
    for i in range(copies):
        lines += [f"{T1},raishub,{1342569600 + i}", f"{T5[0]},raishub,{1342569600 + i}",
                  f"{T5[1]},raishub,{1342569601 + i}"]
    p.write_text("\n".join(lines) + "\n")
    batches = _read(p)
    rows, reports = _rows(batches), _rows(batches, "vessel_reports")
    assert not _reasons(batches)  # once "9 fields, expected 7" on every line
    assert len(rows) == copies and len(reports) == copies
    assert rows[0]["t_utc"] == AISHUB_T and not rows[0]["time_inferred"] and rows[0]["id"] == "367309370"
    assert rows[-1]["t_utc"] == datetime.fromtimestamp(1342569600 + copies - 1, UTC)
    assert reports[0]["t_utc"] == AISHUB_T  # a message's time is its first fragment's
    assert _counter(batches, "receiver_suffix") == 3 * copies


@pytest.mark.parametrize("copies", [1, 300])
def test_suffix_time_precedence_and_bad_suffixes(tmp_path: Path, copies: int) -> None:
    p = tmp_path / "mixed.nmea"
    block = [
        _tag("s:rx1,c:1733637600") + T1 + ",raishub,1342569600",  # the tag block's c: wins
        T1 + ",raishub,0000000042",  # implausible: counted, the time comes from before it
        T1 + ",1342569660",  # a bare trailing time (no receiver)
        T1 + ",raishub",  # a receiver without a time
        T1 + ",rx!x,1342569600",  # not suffix fields: quarantined
    ]
    p.write_text("\n".join(block * copies) + "\n")
    batches = _read(p)
    times = [r["t_utc"] for r in _rows(batches)]
    assert times[:4] == [datetime.fromtimestamp(1733637600, UTC)] * 2 + [
        datetime.fromtimestamp(1342569660, UTC)] * 2
    assert _counter(batches, "implausible_time") == copies
    assert _reasons(batches) == {
        "unrecognised text after the checksum (expected ,RECEIVER,TIME or ,TIME)": copies}
    assert sorted(r.offset for b in batches for r in b.rejects) == [5 + 5 * k for k in range(copies)]


def test_dollar_aivdm_is_decoded_and_other_sentences_are_quarantined(tmp_path: Path) -> None:
    p = tmp_path / "feed.nmea"
    good = _dollar("AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0")
    lines = [
        good,
        _dollar("AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0") + ",raishub,1342569600",
        _tag("c:1733637600") + good,
        _dollar("AIVDM,1,1,,B,15NBj>PP1gG>1PVKTD#UJOv00<0M,0"),  # not a normal payload
        _dollar("AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M"),  # a field short
        _nmea("GPSD,1,2,3"),
        _nmea("AIALR,000000.00,001,A,V,AIS: UTC Lost"),
        _dollar("GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000"),
    ]
    p.write_text("\n".join(lines) + "\n")
    batches = _read(p, start=START)
    rows = _rows(batches)
    assert [r["id"] for r in rows] == ["367309370"] * 3
    assert rows[1]["t_utc"] == AISHUB_T and rows[2]["t_utc"] == datetime.fromtimestamp(1733637600, UTC)
    q = sorted((r.offset, r.reason) for b in batches for r in b.rejects)
    assert [o for o, _ in q] == [4, 5, 6, 7, 8]
    assert q[0][1] == "character outside the AIS payload alphabet"
    assert q[1][1] == "VDM/VDO sentence with 6 fields, expected 7"
    assert [why for _, why in q[2:]] == ["not an AIS sentence (!GPSD)", "not an AIS sentence (!AIALR)",
                                         "not an AIS sentence ($GPGGA)"]
    assert _counter(batches, "other_ais_sentences") == 2 and _counter(batches, "other_nmea_sentences") == 1


LINE_KINDS = ["good", "suffix", "dollar", "dollar_suffix", "gpsd", "gpgga", "bad_suffix", "junk", "comment"]


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(LINE_KINDS), min_size=1, max_size=80), st.integers(1, 3))
def test_every_line_is_a_row_a_quarantine_row_or_a_comment(kinds: list[str], chunks: int) -> None:
    """Whatever the mix and the chunking, each line is a position, a quarantine row with its
    line number, or a comment — never only counted."""
    from sitewatch.sources.ais.nmea import NmeaParser

    text = {"good": T1, "suffix": T1 + ",raishub,1342569600",
            "dollar": _dollar("AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0"),
            "dollar_suffix": _dollar("AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0") + ",rx,1342569600",
            "gpsd": _nmea("GPSD,1,2"), "gpgga": _dollar("GPGGA,1,2,3"), "bad_suffix": T1 + ",a*b",
            "junk": "hello, world", "comment": "# note"}
    lines = [text[k] for k in kinds]
    parser = NmeaParser(start_s=START.timestamp())
    n_pos, offsets = 0, []
    bounds = sorted({0, len(lines), *[len(lines) * c // chunks for c in range(1, chunks)]})
    for a, b in pairwise(bounds):
        r = parser.feed(("\n".join(lines[a:b]) + "\n").encode(), a + 1)
        n_pos += r.positions.num_rows
        offsets += [x.offset for x in r.rejects]
    decoded = {"good", "suffix", "dollar", "dollar_suffix"}
    assert n_pos == sum(k in decoded for k in kinds)
    assert sorted(offsets) == [i + 1 for i, k in enumerate(kinds) if k not in decoded and k != "comment"]
