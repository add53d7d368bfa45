"""Analyst observations from CSV (with or without a header) and YAML: parsing, line numbers
of quarantined records, idempotent re-ingest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sitewatch.errors import FormatError
from sitewatch.sources.base import iter_inputs
from sitewatch.sources.observations.readers import parse_record
from sitewatch.store.db import Store
from sitewatch.store.ingest import ingest_file, ingest_paths


def test_parse_record_reads_counts_classes_and_zones_from_text() -> None:
    r = parse_record({"date": "2024-12-13", "site": "Hmeimim", "text": "2 × A124 on apron", "source": "Maxar"})
    assert r["t_utc"] == datetime(2024, 12, 13, tzinfo=UTC) and r["site"] == "hmeimim"
    assert (r["count"], r["class"], r["zone"]) == (2.0, "A124", "apron")
    r = parse_record({"t_utc": "2024-12-15T09:30+02:00", "site": "tartus", "text": "frigate gone",
                      "count": "0", "class": "ship", "zone": "quay", "confidence": "0.9", "simulated": "yes"})
    assert r["t_utc"] == datetime(2024, 12, 15, 7, 30, tzinfo=UTC) and r["count"] == 0.0
    assert r["confidence"] == 0.9 and r["simulated"] is True
    for bad, msg in (({"site": "x", "text": "y"}, "no time"), ({"date": "2024-12-13", "text": "y"}, "no site"),
                     ({"date": "2024-12-13", "site": "x", "text": "y", "confidence": "2"}, "not in 0..1"),
                     ({"date": "2024-12-13", "site": "x", "text": "y", "count": "many"}, "not a number"),
                     ({"date": "13/12/2024", "site": "x", "text": "y"}, "not ISO 8601")):
        with pytest.raises(ValueError, match=msg):
            parse_record(bad)


def test_csv_with_header_and_yaml_keep_line_numbers(tmp_path: Path) -> None:
    store = Store()
    csv_path = tmp_path / "obs.csv"
    csv_path.write_text("date,site,text,count,class,zone,source,url\n"
                        "2024-12-13,hmeimim,An-124 pair,2,A124,apron,Planet,https://example.org/1\n"
                        "2024-12-14,hmeimim,trucks,many,large-vehicle,north-park,Maxar,\n"
                        "\n"
                        "2024-12-15,hmeimim,\"trucks, dozens\",40,large-vehicle,north-park,Maxar,\n")
    yaml_path = tmp_path / "obs.yaml"
    yaml_path.write_text("- t_utc: 2024-12-13T09:00Z\n  site: tartus\n  text: 3 × ship on the quay\n"
                         "- site: tartus\n  text: no time here\n"
                         "- not a mapping\n"
                         "- {date: 2024-12-16, site: tartus, text: quay empty, count: 0, class: ship}\n")
    s = ingest_paths(store, "observations", [csv_path, yaml_path])
    assert (s.accepted, s.rejected, s.failed_files) == (4, 3, 0)
    q = store.rows("SELECT path, rec_offset, reason FROM quarantine ORDER BY path, rec_offset")
    assert [(Path(r["path"]).name, r["rec_offset"]) for r in q] == [("obs.csv", 3), ("obs.yaml", 4), ("obs.yaml", 6)]
    assert "count 'many'" in q[0]["reason"] and "no time" in q[1]["reason"] and "mapping" in q[2]["reason"]
    rows = store.rows("SELECT text, count, class, zone, rec_offset FROM observations ORDER BY t_utc, text")
    assert ("trucks, dozens", 40.0, "large-vehicle", "north-park", 5) in [tuple(r.values()) for r in rows]
    assert ("3 × ship on the quay", 3.0, "ship", "quay", 1) in [tuple(r.values()) for r in rows]
    again = ingest_paths(store, "observations", [csv_path, yaml_path])
    assert again.skipped_files == 2 and store.count("observations") == 4


def test_same_observation_in_two_files_is_stored_once(tmp_path: Path) -> None:
    store = Store()
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("2024-12-13, hmeimim, 2 × A124 on apron, Maxar, https://example.org/p\n")
    b.write_text("2024-12-13, hmeimim, 2 × A124 on apron, Maxar, https://example.org/p\n"
                 "2024-12-14, hmeimim, 1 × IL76 on apron, Maxar, https://example.org/q\n")
    ingest_paths(store, "observations", [a])
    s = ingest_paths(store, "observations", [b])
    assert (s.accepted, s.duplicates) == (1, 1) and store.count("observations") == 2


def test_unknown_csv_columns_fail_the_file_with_its_name(tmp_path: Path) -> None:
    store = Store()
    f = tmp_path / "bad.csv"
    f.write_text("date,site,text,colour\n2024-12-13,hmeimim,x,red\n")
    with pytest.raises(FormatError, match="colour") as exc:
        ingest_file(store, "observations", next(iter_inputs([f])), "csv")
    assert "bad.csv" in str(exc.value)
