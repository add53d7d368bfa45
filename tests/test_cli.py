"""The CLI as a user drives it: main(argv) -> int, JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pytest

from sitewatch.cli import main, root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_workspace_names_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITEWATCH_WORKSPACE", raising=False)
    code, out, err = run(capsys, "-w", str(tmp_path / "nope"), "site", "list")
    assert code == 2 and out == ""
    assert str(tmp_path / "nope") in err and "sitewatch init" in err
    assert "Traceback" not in err


def test_workspace_from_env(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(capsys, "init", str(tmp_path / "w"))[0] == 0
    monkeypatch.setenv("SITEWATCH_WORKSPACE", str(tmp_path / "w"))
    code, out, _ = run(capsys, "site", "add", "hmeimim", "--airport", "OSLK", "--format", "json")
    assert code == 0 and json.loads(out)[0]["lat"] == pytest.approx(35.4011)
    code, out, _ = run(capsys, "site", "list", "--format", "json")
    assert [s["name"] for s in json.loads(out)] == ["hmeimim"]


def test_site_commands_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(tmp_path / "w")
    run(capsys, "init", w)
    assert run(capsys, "-w", w, "site", "add", "tartus", "--port", "Tartus")[0] == 0
    code, _, err = run(capsys, "-w", w, "site", "add", "tartus", "--port", "Tartus")
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, "-w", w, "site", "add", "x", "--port", "Tartus", "--point", "1,2")
    assert code == 2 and "exactly one" in err
    code, _, err = run(capsys, "-w", w, "site", "add", "x", "--airport", "OSLX")
    assert code == 2 and "OSLK" in err
    zone = tmp_path / "quay.geojson"
    zone.write_text(json.dumps({"type": "Polygon", "coordinates": [[[35.865, 34.898], [35.870, 34.898],
                                                                     [35.870, 34.902], [35.865, 34.902],
                                                                     [35.865, 34.898]]]}))
    assert run(capsys, "-w", w, "site", "zone", "add", "tartus", "quay", "--geojson", str(zone))[0] == 0
    code, out, _ = run(capsys, "-w", w, "site", "show", "tartus", "--format", "geojson")
    fc = json.loads(out)
    assert [f["properties"]["zone"] for f in fc["features"]] == [None, "quay"]
    assert run(capsys, "-w", w, "site", "remove", "tartus")[0] == 0
    code, out, _ = run(capsys, "-w", w, "site", "list", "--format", "json")
    assert json.loads(out) == []


def test_ingest_prints_one_json_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(tmp_path / "w")
    run(capsys, "init", w)
    f = tmp_path / "p.csv"
    f.write_text("t_utc,source,id,lat,lon\n2024-12-01T00:00:00Z,adsb,151abc,35.4,35.9\n"
                 "2024-12-01T00:00:05Z,adsb,151abc,35.4,bad\n")
    code, out, _ = run(capsys, "-w", w, "ingest", "positions", str(f))
    assert code == 0
    assert json.loads(out) == {"files": 1, "accepted": 1, "rejected": 1, "duplicates": 0, "skipped_files": 0}
    code, out, _ = run(capsys, "-w", w, "ingest", "positions", str(f))
    assert json.loads(out)["skipped_files"] == 1
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage")
    code, out, err = run(capsys, "-w", w, "ingest", "positions", str(junk))
    assert code == 1 and json.loads(out)["failed_files"] == 1 and "junk.bin" in err
    code, out, _ = run(capsys, "-w", w, "export", "positions", "--format", "csv", "--out", str(tmp_path / "o.csv"))
    assert code == 0 and json.loads(out)["rows"] == 1


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
    return out


@pytest.mark.parametrize("path,cmd", _commands(root), ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_command_has_help_with_an_example(path: tuple[str, ...], cmd: click.Command,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *path, "--help")
    assert code == 0 and "Usage:" in out
    if not isinstance(cmd, click.Group):
        assert "Example" in out, f"`sitewatch {' '.join(path)} --help` shows no example"


# --------------------------------------------------------------------------- tables, times, kinds, errors
LONG = ("Antonov An-124 Ruslan RA-82035 likely landed at hmeimim during the 6 h 00 min gap: lost 43 km W of "
        "the site descending through 11,225 ft, reacquired 79 km NNW climbing")


def test_tables_wrap_instead_of_cutting_and_print_seconds() -> None:
    from datetime import UTC, datetime

    from sitewatch.cli._common import table

    t = datetime(2024, 12, 17, 8, 11, 4, 430000, tzinfo=UTC)
    text = table([{"t_start": t, "kind": "air.dark-visit", "summary": LONG},
                  {"t_start": "2024-12-17T09:00:01.500000Z", "kind": "air.arrival", "summary": "short"}],
                 ["t_start", "kind", "summary"], width=90)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 90
    assert " ".join(" ".join(lines).split()).count("reacquired 79 km NNW climbing") == 1  # every word is there
    assert "2024-12-17T08:11:04Z" in text and "2024-12-17T09:00:01Z" in text and ".43" not in text
    assert lines[2].startswith("2024-12-17T08:11:04Z  air.dark-visit  Antonov")
    assert lines[3].startswith(" " * 20)  # the summary goes on under its own column


@pytest.fixture
def events_ws(tmp_path: Path) -> str:
    from datetime import UTC, datetime, timedelta

    from sitewatch import sites as S
    from sitewatch.analytics.base import events_table
    from sitewatch.workspace import Workspace

    t0 = datetime(2024, 12, 17, 8, 0, tzinfo=UTC)
    with Workspace.init(tmp_path / "w") as ws:
        ws.put_site(S.from_airport("hmeimim", "OSLK", 6))
        ws.store.insert("events", events_table([
            {"kind": "dark-visit", "site": "hmeimim", "t_start": t0, "t_end": t0 + timedelta(hours=6),
             "subject": "154073", "subject_kind": "aircraft", "confidence": 0.72, "details": {}, "summary": LONG},
            {"kind": "arrival", "site": "hmeimim", "t_start": t0 + timedelta(hours=8, microseconds=250_000),
             "subject": "1533ee", "subject_kind": "aircraft", "confidence": 0.99, "details": {},
             "summary": "1533ee landed at OSLK"}], "air.site-events"))
    return str(tmp_path / "w")


def test_events_and_timeline_share_one_vocabulary(events_ws: str, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("arrival", "air.arrival"):
        code, out, _ = run(capsys, "-w", events_ws, "events", "--kind", kind, "--format", "ndjson")
        rows = [json.loads(x) for x in out.splitlines()]
        assert code == 0 and [(r["kind"], r["canonical_kind"]) for r in rows] == [("arrival", "air.arrival")]
        code, out, _ = run(capsys, "-w", events_ws, "timeline", "hmeimim", "--kind", kind, "--format", "ndjson")
        assert code == 0 and [json.loads(x)["kind"] for x in out.splitlines()] == ["air.arrival"]
    code, out, _ = run(capsys, "-w", events_ws, "events", "--site", "hmeimim")
    assert code == 0 and "air.dark-visit" in out and "air.arrival" in out
    assert "2024-12-17T16:00:00Z" in out and ".25" not in out  # to the second
    assert "reacquired 79 km NNW climbing" in " ".join(out.split())  # wrapped, not cut


@pytest.mark.parametrize("cmd", [["events", "--kind", "nothing"], ["timeline", "hmeimim", "--kind", "nothing"],
                                 ["events", "--kind", "arrival,sea.nothing"]])
def test_an_unknown_kind_lists_the_valid_ones(events_ws: str, capsys: pytest.CaptureFixture[str],
                                              cmd: list[str]) -> None:
    code, out, err = run(capsys, "-w", events_ws, *cmd)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "unknown kind" in err and "air.arrival" in err and "sea.vessel-departure" in err


@pytest.mark.parametrize("cmd", [["events"], ["timeline", "hmeimim"], ["query", "aircraft"],
                                 ["query", "two-box", "--a", "hmeimim", "--b", "44,42,46,45"]])
def test_a_reversed_window_is_a_one_line_error(events_ws: str, capsys: pytest.CaptureFixture[str],
                                               cmd: list[str]) -> None:
    code, out, err = run(capsys, "-w", events_ws, *cmd, "--from", "2024-12-15", "--to", "2024-12-10")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--to 2024-12-10T00:00:00Z is not after --from 2024-12-15T00:00:00Z" in err


def test_user_errors_are_one_line_without_traceback(events_ws: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = run(capsys, "-w", events_ws, "export", "events", "--format", "csv",
                         "--out", str(blocker / "sub" / "e.csv"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(blocker) in err and "not a folder" in err
    for argv in (["events", "--format", "xml"], ["nosuch"], ["events", "--limit", "x"]):
        code, _, err = run(capsys, "-w", events_ws, *argv)
        assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
        assert "--help" in err


def test_a_failed_ingest_file_is_named_once(events_ws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # a person at a terminal reads both streams
    code, out, err = run(capsys, "-w", events_ws, "ingest", "positions", str(junk))
    assert code == 1 and (out + err).count("junk.bin") == 1 and "junk.bin" in err
    assert json.loads(out)["failed_files"] == 1
