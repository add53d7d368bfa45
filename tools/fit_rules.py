"""Blend the simulator's state frequencies into the shipped hypothesis files' `expects`.

Usage: python tools/fit_rules.py --runs 600 --seed 11 [--weight 0.7] [--items A,B] [--write]

For each item and hypothesis: expects = weight × (simulated frequency, add-one smoothed) +
(1 − weight) × the file's current judgement, floored at 0.02 and rounded to 2 decimals.
Hypotheses the simulator never plays as the truth (``other``) are left as they are. Run the
calibration on a *different* seed afterwards (`sitewatch rules calibrate --seed 1`): fitting
and checking on the same runs would flatter the figures.
"""

from __future__ import annotations

import argparse
import re
from importlib import resources
from pathlib import Path

from sitewatch.fusion import items as IT
from sitewatch.fusion import rules as R
from sitewatch.simulate import calibration as C


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=600)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--weight", type=float, default=0.7)
    ap.add_argument("--items", default="", help="only these items (comma-separated; default: every item)")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    emp = C.empirical(a.runs, a.seed)
    rules = R.shipped()
    folder = Path(str(resources.files("sitewatch.fusion") / "rules"))
    for name, rule in rules.items():
        if name not in C.TRUTHS:
            continue
        path = folder / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        only = {x.strip() for x in a.items.split(",") if x.strip()}
        for it, d in IT.ITEMS.items():
            if only and it not in only:
                continue
            e = emp.get(it, {}).get(name)
            if e is None:
                continue
            n, k = e["n"], len(d.states)
            cur = rule.distribution(it)
            raw = [(e["states"][s] * n + 1.0) / (n + k) for s in d.states]
            mix = [max(0.02, a.weight * x + (1 - a.weight) * y) for x, y in zip(raw, cur, strict=True)]
            tot = sum(mix)
            vals = [round(x / tot, 2) for x in mix]
            vals[vals.index(max(vals))] = round(vals[vals.index(max(vals))] + 1.0 - sum(vals), 2)
            inner = ", ".join(f"{s if ' ' not in s else repr(s)}: {v}" for s, v in zip(d.states, vals, strict=True))
            print(f"{name:14} {it:20} n={n:4} sim={[round(x, 2) for x in raw]} was={[round(x, 2) for x in cur]} "
                  f"-> {vals}")
            text = re.sub(rf"(?m)^  {it}: \{{.*\}}$", f"  {it}: {{{inner}}}", text)
        if a.write:
            path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
