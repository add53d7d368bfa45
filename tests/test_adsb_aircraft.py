"""Aircraft identity: tar1090-db and OpenSky database loads, military ranges, show/list commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import shared, traffic

from sitewatch.cli import main
from sitewatch.reference.aircraft_db import military_by_address, read_tar1090


def _mini_db(tmp_path: Path) -> Path:
    """A tar1090-db folder with two of the real prefix files (links, not copies)."""
    src = shared("data/reference/tar1090-db")
    db = tmp_path / "tar1090-db" / "db"
    db.mkdir(parents=True)
    for name in ("3.js", "A.js"):
        (db / name).symlink_to(src / "db" / name)
    (db / "files.js").symlink_to(src / "db" / "files.js")  # not a prefix file: ignored
    (tmp_path / "tar1090-db" / "ranges.json").symlink_to(src / "ranges.json")
    return tmp_path / "tar1090-db"


def test_military_ranges() -> None:
    got = military_by_address([0xAE0455, 0x3B7777, 0x393322, 0x000000, 0xFFFFFF, 0xADF7C8, 0xADF7C7])
    assert got.tolist() == [True, True, False, False, False, True, False]


def test_read_tar1090_gzip_json(tmp_path: Path) -> None:
    rows = [r for t in read_tar1090(_mini_db(tmp_path), ("K35R", "C2")) for r in t.to_pylist()]
    by = {r["icao24"]: r for r in rows}
    assert by["3b7777"]["typecode"] == "K35R" and by["3b7777"]["military"]
    assert by["ae0455"]["typecode"] == "C2" and by["ae0455"]["registration"]
    assert {r["typecode"] for r in rows} == {"K35R", "C2"}
    (tmp_path / "bad" / "db").mkdir(parents=True)
    (tmp_path / "bad" / "db" / "3.js").write_text("not gzip, not json")
    with pytest.raises(Exception, match="gzip"):
        list(read_tar1090(tmp_path / "bad"))


def test_load_db_show_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(tmp_path / "w")
    main(["init", w])
    assert main(["-w", w, "-q", "ingest", "adsb", str(traffic("military/inflight_refuelling.json.gz"))]) == 0
    assert main(["-w", w, "aircraft", "load-db", str(_mini_db(tmp_path)), "--watch-types", "k35r,C2"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["loaded"] > 100 and out["military"] > 50
    assert main(["-w", w, "aircraft", "show", "3B7777", "--format", "json"]) == 0
    a = json.loads(capsys.readouterr().out)[0]
    assert a["typecode"] == "K35R" and a["military"] and a["positions"] == 10396
    assert a["callsigns"] == ["FAF4011"] and a["type_of_interest"]["role"] == "tanker"
    assert main(["-w", w, "aircraft", "list", "--watch-types", "K35R", "--seen", "--format", "json"]) == 0
    assert [r["icao24"] for r in json.loads(capsys.readouterr().out)] == ["3b7777"]
    assert main(["-w", w, "aircraft", "show", "123456"]) == 2
    assert "load-db" in capsys.readouterr().err
    assert main(["-w", w, "aircraft", "list", "--watch-types", "An-124"]) == 2
    # a second load keeps fields the database leaves empty (the feed's category)
    from sitewatch.workspace import Workspace

    with Workspace.open(w) as ws:
        ws.store.sql("UPDATE aircraft SET category='A5' WHERE icao24='3b7777'")
    main(["-w", w, "-q", "aircraft", "load-db", str(_mini_db(tmp_path / "again")), "--watch-types", "K35R"])
    capsys.readouterr()
    main(["-w", w, "aircraft", "show", "3b7777", "--format", "json"])
    assert json.loads(capsys.readouterr().out)[0]["category"] == "A5"


def test_opensky_database_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "aircraftDatabase.csv").write_text(
        "icao24,registration,manufacturericao,manufacturername,model,typecode,operator,owner\n"
        "3b7777,739,BOEING,Boeing,C-135FR,K35R,French Air Force,\n"
        "4241f3,RA-82079,ANTONOV,Antonov,An-124-100,A124,,Volga-Dnepr\n"
        "zzzzzz,X,,,,,,\n")
    w = str(tmp_path / "w")
    main(["init", w])
    assert main(["-w", w, "aircraft", "load-db", str(tmp_path / "aircraftDatabase.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["loaded"] == 2
    main(["-w", w, "aircraft", "list", "--format", "json"])
    rows = {r["icao24"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["4241f3"]["operator"] == "Volga-Dnepr" and rows["4241f3"]["typecode"] == "A124"
    assert rows["3b7777"]["military"] and not rows["4241f3"]["military"]


def test_ingest_watch_types_keeps_only_those_aircraft(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    carrier = str(traffic("military/aircraft_carrier.json.gz"))
    refuel = str(traffic("military/inflight_refuelling.json.gz"))
    w = str(tmp_path / "w")
    main(["init", w])
    assert main(["-w", w, "-q", "ingest", "adsb", carrier, "--watch-types", "K35R"]) == 2
    assert "load-db" in capsys.readouterr().err
    main(["-w", w, "-q", "aircraft", "load-db", str(_mini_db(tmp_path)), "--watch-types", "K35R,C2"])
    capsys.readouterr()
    assert main(["-w", w, "-q", "ingest", "adsb", carrier, refuel, "--watch-types", "k35r"]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 10396
    from sitewatch.workspace import Workspace

    with Workspace.open(w, read_only=True) as ws:
        assert ws.store.sql("SELECT DISTINCT id FROM positions") == [("3b7777",)]
        st = dict(ws.store.sql("SELECT name, sum(value) FROM ingest_stats GROUP BY name"))
        assert st["not_watched"] == 7335
        opts = [json.loads(r[0]) for r in ws.store.sql("SELECT options FROM ingest_log")]
        assert opts == [{"watch_types": "K35R"}] * 2
