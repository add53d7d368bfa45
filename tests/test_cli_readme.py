"""The README's "Analyse, assess, publish" examples, run as written against a SIMULATED demo
workspace (``demo --scale 0.2 --no-imagery``, built once for this module): each must exit 0
and return something — rows, a file, a judgement — never "(none)" or an empty list."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from sitewatch.cli import main

ROOT = Path(__file__).resolve().parents[1]
IMAGERY = {"detect", "counts", "change"}  # need scenes; the module's demo has none (--no-imagery)
NOT_RUN = {"serve": "starts a server (tests/test_web.py and tests/test_dashboard_browser.py drive it)"}


def readme_examples() -> list[list[str]]:
    """The commands of the README's "Analyse, assess, publish" block, comments dropped and
    `a && b` split into two commands."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Analyse, assess, publish"):]
    block = section[section.index("```sh") + 5: section.index("```", section.index("```sh") + 5)]
    out = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        for part in filter(None, (p.strip() for p in line.split("&&"))):
            argv = shlex.split(part)
            assert argv[0] == "sitewatch", part
            out.append(argv[1:])
    return out


EXAMPLES = readme_examples()


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("readme") / "demo"
    with contextlib.redirect_stdout(io.StringIO()):
        main(["-q", "demo", "--out", str(out), "--scale", "0.2", "--no-imagery"])
    ws = out / "workspace"
    assert (ws / "sitewatch.duckdb").is_file(), "the demo did not build its workspace"
    return ws


def _returned_something(out: str, err: str, argv: list[str], cwd: Path) -> None:
    assert out.strip() or err.strip(), f"`sitewatch {' '.join(argv)}` printed nothing"  # `watch add` says so on stderr
    assert out.strip() != "(none)", f"`sitewatch {' '.join(argv)}` returned no rows on the demo"
    first = (out.strip().splitlines() or [""])[0]
    if first.startswith(("[", "{")):
        with contextlib.suppress(ValueError):
            assert json.loads(out) not in ([], {}), f"`sitewatch {' '.join(argv)}` returned an empty answer"
    if "--out" in argv:
        target = cwd / argv[argv.index("--out") + 1]
        assert target.exists() and target.stat().st_size > 0, f"{target} was not written"


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 10
    assert ["query", "two-box", "--a", "hmeimim", "--b", "44.0,42.0,46.0,45.0", "--min-gap", "1h",
            "--max-gap", "8h"] in EXAMPLES


@pytest.mark.slow
@pytest.mark.parametrize("argv", EXAMPLES, ids=lambda a: " ".join(a[:3]))
def test_readme_example_returns_something_on_the_demo(argv: list[str], demo_ws: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    if argv[0] in NOT_RUN:
        pytest.skip(NOT_RUN[argv[0]])
    if argv[0] in IMAGERY:
        pytest.skip("needs imagery; this module's demo is built with --no-imagery "
                    "(the imagery steps run in tests/test_demo_scenario.py and `make demo`)")
    if "--pdf" in argv and not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        argv = [a for a in argv if a != "--pdf"]  # printing needs Debian's chromium
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code = main(["-w", str(demo_ws), *argv])
    out, err = capsys.readouterr()
    assert code == 0, f"`sitewatch {' '.join(argv)}` exited {code}: {err.strip()[-500:]}"
    _returned_something(out, err, argv, tmp_path)
