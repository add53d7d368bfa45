"""The CLI as a user drives it: main(argv) -> int, JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
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
