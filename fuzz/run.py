"""Run every atheris target for ``--seconds N`` each and print what was tried and found.

Usage: ``python fuzz/run.py --seconds 60 [--only hex,beast] [--artifacts DIR]``
(``make fuzz`` installs atheris and runs this). Each target starts from the harness' seed
inputs plus the regression inputs (``fuzz/harness.py``), runs in its own process with a
2 GiB RSS limit and a 10 s per-input timeout (a hang is a finding), and reports the
number of executions libFuzzer made and whether it crashed; a crash's reproducer is saved
under ``--artifacts``. Exit status 1 if any target crashed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def run_target(name: str, seconds: int, artifacts: Path) -> dict[str, object]:
    from fuzz import harness as H

    corpus = Path(tempfile.mkdtemp(prefix=f"corpus-{name}-"))
    for i, s in enumerate(H.TARGETS[name].seeds() + [x for x in H.EXTREME if len(x) < 4096] + H.regressions(name)):
        (corpus / f"seed{i}").write_bytes(s)
    artifacts.mkdir(parents=True, exist_ok=True)
    script = HERE / f"fuzz_{name.replace('-', '_')}.py"
    cmd = [sys.executable, str(script), f"-max_total_time={seconds}", "-rss_limit_mb=2048", "-timeout=10",
           "-max_len=16384", f"-artifact_prefix={artifacts}/{name}-", "-print_final_stats=1", str(corpus)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 3 + 120)
    log = p.stdout + p.stderr
    runs = re.findall(r"Done (\d+) runs in", log) or re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    execs = int(runs[-1]) if runs else max((int(x) for x in re.findall(r"#(\d+)\s", log)), default=0)
    crashed = p.returncode != 0
    detail = ""
    if crashed:
        m = re.search(r"=== Uncaught Python exception: ===\n(.*?)\n(?:Traceback|$)", log, re.S)
        tail = [ln for ln in log.splitlines() if ln.strip()][-6:]
        detail = (m.group(1).strip() if m else "") or " | ".join(tail)
    return {"target": name, "executions": execs, "crashed": crashed, "detail": detail[:400], "rc": p.returncode}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=60, help="fuzzing time per target")
    ap.add_argument("--only", default="", help="comma-separated target names (default: all)")
    ap.add_argument("--artifacts", default=str(Path(tempfile.gettempdir()) / "sitewatch-fuzz-artifacts"),
                    help="folder for crash reproducers")
    args = ap.parse_args(argv)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        return 2
    from fuzz import harness as H

    names = [n for n in H.TARGETS if not args.only or n in args.only.split(",")]
    results = []
    for name in names:
        r = run_target(name, args.seconds, Path(args.artifacts))
        results.append(r)
        flag = "CRASH " + str(r["detail"]) if r["crashed"] else "ok"
        print(f"{name:20s} {r['executions']:>10d} executions  {flag}", flush=True)
    total = sum(int(r["executions"]) for r in results)  # type: ignore[call-overload]
    crashed = [r["target"] for r in results if r["crashed"]]
    print(f"total {total} executions over {len(results)} targets, {args.seconds} s each; "
          f"crashed: {', '.join(map(str, crashed)) or 'none'}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
