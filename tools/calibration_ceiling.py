"""How much of the calibration gap is the combination step, how much the evidence items?

Usage: python tools/calibration_ceiling.py [--fit-runs 1200] [--fit-seed 11] [--runs 500]
                                           [--seeds 1 2 3] [--workers 2] [--lam 0.001]

Fits a multinomial logistic regression (a discriminative classifier, NumPy, L2-penalised) on the
evidence items of ``--fit-runs`` simulated histories (seed ``--fit-seed``, every truth and site
kind equally often, as ``tools/fit_rules.py`` draws them), then scores it and the shipped Bayes
hypotheses on the *same* runs ``sitewatch rules calibrate --runs N --seed S`` assesses (same
random draws, so the Bayes figures equal that command's). The classifier adds each kind's log
prior to its scores, as the Bayes step does. Two feature sets:

- ``states``: the items' states, one-hot per site kind — the Bayes step's own inputs;
- ``states+scores``: the same and each indicator's score (clipped to [-6, 8]).

If a classifier on the same inputs is not much better, the limit is in what the items extract
from the evidence, not in how the judgement combines them. Prints one JSON object. Takes about
(fit-runs + runs × seeds) × 0.4 s of CPU, spread over ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from sitewatch.fusion import assessment as A
from sitewatch.fusion import indicators as IND
from sitewatch.fusion import items as IT
from sitewatch.fusion import rules as R
from sitewatch.simulate import calibration as C

Features = dict[str, float]


def _features(kind: str, obs: Sequence[IT.Observation], scores: bool) -> Features:
    x: Features = {f"kind={kind}": 1.0}
    for o in obs:
        if o.state is None:
            continue
        x[f"{o.item}={o.state}|{kind}"] = 1.0
        if scores and o.score is not None:
            x[f"{o.item}:score|{kind}"] = float(np.clip(o.score, -6.0, 8.0)) / 4.0
    return x


def _runs(job: tuple[str, int, int]) -> list[dict[str, Any]]:
    """The runs of one seed: truth, kind, both feature sets and the shipped Bayes probabilities."""
    mode, seed, runs = job
    rules = R.shipped()
    rule_list = list(rules.values())
    # the fit's runs as calibration.empirical draws them; the checks' exactly as calibrate does
    drawn = C.balanced_draws(runs, seed) if mode == "fit" else C.draws(rules, runs, seed)
    out = []
    for dr in drawn:
        series = IND.compute_from_rows(dr.rows, dr.coverage, dr.site, C.AS_OF)
        obs = IT.observe(dr.site, series, dr.rows, dr.coverage, C.AS_OF)
        bayes: dict[str, float] = {}
        if mode != "fit":
            judged = A.judge_set(rule_list, dr.site, obs, C.AS_OF, {r["evidence_id"]: r for r in dr.rows})
            bayes = {a.hypothesis: a.probability for a in judged}
        out.append({"truth": dr.truth, "kind": dr.kind, "bayes": bayes,
                    "states": _features(dr.kind, obs, False), "states+scores": _features(dr.kind, obs, True)})
    return out


def _matrix(rows: Sequence[Features], index: dict[str, int], grow: bool) -> np.ndarray:
    if grow:
        for r in rows:
            for f in r:
                index.setdefault(f, len(index))
    x = np.zeros((len(rows), len(index) + 1))
    x[:, -1] = 1.0
    for i, r in enumerate(rows):
        for f, v in r.items():
            if f in index:
                x[i, index[f]] = v
    return x


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def _fit(x: np.ndarray, y: np.ndarray, k: int, lam: float, steps: int = 3000, lr: float = 0.5) -> np.ndarray:
    w = np.zeros((x.shape[1], k))
    onehot = np.eye(k)[y]
    for _ in range(steps):
        w -= lr * (x.T @ (_softmax(x @ w) - onehot) / len(y) + lam * w)
    return w


def _score(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    k = p.shape[1]
    return {"top1_accuracy": round(float((p.argmax(axis=1) == y).mean()), 4),
            "brier": round(float(((p - np.eye(k)[y]) ** 2).sum(axis=1).mean()), 4),
            "log_loss": round(float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean()), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit-runs", type=int, default=1200)
    ap.add_argument("--fit-seed", type=int, default=11)
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lam", type=float, default=0.001, help="L2 penalty of the classifier")
    a = ap.parse_args()
    half = a.fit_runs // 2  # two halves on two seeds, so two workers share the fit runs
    jobs = [("fit", a.fit_seed, half), ("fit", a.fit_seed + 1000, a.fit_runs - half)]
    jobs += [("check", s, a.runs) for s in a.seeds]
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        done = list(pool.map(_runs, jobs))
    fit = done[0] + done[1]
    rules = R.shipped()
    truths = list(C.TRUTHS)
    y_fit = np.array([truths.index(r["truth"]) for r in fit])
    models = {}
    for fs in ("states", "states+scores"):
        index: dict[str, int] = {}
        x = _matrix([r[fs] for r in fit], index, grow=True)
        models[fs] = (index, _fit(x, y_fit, len(truths), a.lam))
    report: dict[str, Any] = {"fit_runs": a.fit_runs, "fit_seed": a.fit_seed, "runs": a.runs, "lam": a.lam,
                              "seeds": {}}
    for seed, runs in zip(a.seeds, done[2:], strict=True):
        y = np.array([truths.index(r["truth"]) for r in runs])
        # the Bayes set includes the remainder ("other"); it is never the truth, so its share counts as error
        hyps = truths + sorted({h for r in runs for h in r["bayes"]} - set(truths))
        pb = np.array([[r["bayes"].get(h, 0.0) for h in hyps] for r in runs])
        row: dict[str, Any] = {"bayes (shipped rules)": _score(pb, y)}
        log_prior = np.log(np.array([[rules[t].prior_for(r["kind"]) for t in truths] for r in runs]))
        for fs, (index, w) in models.items():
            p = _softmax(_matrix([r[fs] for r in runs], index, grow=False) @ w + log_prior)
            row[f"logistic ({fs})"] = _score(p, y)
        report["seeds"][str(seed)] = row
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
