"""The CLI reference in docs/cli.md is generated from --help and must be current; README basics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    proc = subprocess.run([sys.executable, "tools/gen_cli_docs.py", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + " (run: python tools/gen_cli_docs.py)"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.index("## ", text.index("make test"))] if "## " in text else text
    assert "make demo" in head and "make test" in head
