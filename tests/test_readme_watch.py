"""The README's whole watch of Hmeimim, set up from nothing but names, run as written.

The commands of the "Fetch and watch" block (the same as ``sitewatch fetch --help`` shows)
run through the CLI in an empty folder; only the two sources' addresses are then pointed at
the offline stand-ins (the adsb.lol mirror of tests/test_fetch_adsb.py, a SIMULATED day with
IL-76s at Hmeimim; the Earth Search stand-in of tests/test_fetch_imagery.py), and a cycle runs
on the day the mirror publishes: positions fetched, analysed, Hmeimim assessed, the airlift
rule fires into alerts.log. ``watch run --every 15m`` loops until Ctrl-C, so it runs here as
``watch run --once``.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.test_fetch_adsb import Mirror, day_tar, publish, split
from tests.test_fetch_imagery import FAST, StandIn, build_cog, earth_search, host  # noqa: F401 (fixture)

from sitewatch.alerts import watch_config as W
from sitewatch.alerts.watch_run import run_cycle
from sitewatch.alerts.watch_status import read
from sitewatch.cli import main
from sitewatch.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def _commands(block: str) -> list[list[str]]:
    out = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        for part in filter(None, (p.strip() for p in line.split("&&"))):
            out.append(shlex.split(part))
    return out


def readme_watch() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Fetch and watch"):]
    start = section.index("```sh") + 5
    return _commands(section[start:section.index("```", start)])


def help_watch(capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    capsys.readouterr()
    assert main(["fetch", "--help"]) == 0
    text = capsys.readouterr().out
    return _commands(text[text.index("A whole watch of Hmeimim"):].split("\n", 1)[1])


def test_fetch_help_and_the_readme_show_the_same_whole_watch(capsys: pytest.CaptureFixture[str]) -> None:
    cmds = readme_watch()
    assert help_watch(capsys) == cmds
    assert cmds[0][:2] == ["sitewatch", "init"] and cmds[1] == ["cd", "syria"]
    assert cmds[-1] == ["sitewatch", "watch", "run", "--every", "15m"]
    assert all(c[0] in ("sitewatch", "cd") for c in cmds)
    # nothing but names: no file is given to any command (alerts.log is where alerts go)
    assert not [a for c in cmds for a in c if re.search(r"\.(tar|zip|json|csv|tif|geojson|nmea)\b", a)]


def test_the_readme_whole_watch_runs_as_written(host: StandIn, tmp_path: Path,  # noqa: F811
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in readme_watch():
        if argv[0] == "cd":
            monkeypatch.chdir(Path.cwd() / argv[1])
            continue
        if argv[1:3] == ["watch", "run"]:
            continue  # below, once the sources point at the stand-ins
        assert main(argv[1:]) == 0, (argv, capsys.readouterr().err)
    folder = Path.cwd()
    assert folder.name == "syria" and (folder / "sitewatch.toml").is_file()
    # the stand-ins: the one change to what the README's commands configured
    earth_search(host, build_cog(tmp_path / "tci.tif", 35.95, 35.40, 10.0, 512))
    for srv in Mirror(publish(split(day_tar(None)), listing=False)).serve():  # 2024-12-06 only (probed)
        ws = Workspace.open(folder)
        src = ws.config["watch"]["sources"]
        assert src["adsb"]["source"] == "adsblol" and src["s2"]["source"] == "earth-search-s2"
        src["adsb"]["mirror"], src["s2"]["stac"] = srv.url, host.url + "/v1"
        ws.save()
        cyc = run_cycle(ws, W.load(ws.config), now=datetime(2024, 12, 7, 6, tzinfo=UTC), http=FAST)
        assert cyc.errors == 0 and cyc.new > 0 and cyc.analyzed and cyc.assessed == ["hmeimim"], [(x.get("errors"), x.get("notes")) for x in cyc.fetched]
        assert {a["rule"] for a in cyc.alerts} == {"airlift"}
        ws.close()
        assert "airlift" in (folder / "alerts.log").read_text()
        st = read(folder)["sources"]
        assert st["adsb"]["days_done"] == ["2024-12-06"] and st["s2"]["last_error"] is None
        # and the command itself (once: --every loops until Ctrl-C)
        capsys.readouterr()
        assert main(["watch", "run", "--once"]) == 0, capsys.readouterr().err
        assert '"cycle": true' in capsys.readouterr().out
