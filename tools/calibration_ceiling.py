"""How much of the calibration gap is the combination step, how much the evidence items?

Usage: python tools/calibration_ceiling.py [--fit-runs 1200] [--fit-seed 11] [--runs 500]
                                           [--seeds 1 2 3] [--workers 2] [--lam 0.001] [--trees]

Fits a multinomial logistic regression (a discriminative classifier, NumPy, L2-penalised) on the
evidence items of ``--fit-runs`` simulated histories (seed ``--fit-seed``, every truth and site
kind equally often, as ``tools/fit_rules.py`` draws them), then scores it and the shipped Bayes
hypotheses on the *same* runs ``sitewatch rules calibrate --runs N --seed S`` assesses (same
random draws, so the Bayes figures equal that command's). The classifier adds each kind's log
prior to its scores, as the Bayes step does. Two feature sets:

- ``states``: the items' states, one-hot per site kind — the Bayes step's own inputs;
- ``states+scores``: the same and each indicator's score (clipped to [-6, 8]);
- ``states+scores+rows``: the same and features read from the evidence rows themselves, not
  through the items — per kind of row (heavy transports, sorties, one-way military movements,
  passenger flights, dark visits, departures and new port visits by kind of ship, loitering
  episodes started and still under way) the count over the last 2, 4, 7 and 12 days against the
  rate before, per coverage day, and per imagery class (vehicles, planes, ships, analysts'
  vehicle counts) the scenes of those windows against the mean of the scenes before. Nothing
  from after the as-of time. If a classifier gains here, the items leave information unread.

If a classifier on the items' own inputs is not much better, the limit is in what the items
extract from the evidence, not in how the judgement combines them. ``--trees`` (needs
scikit-learn, not a dependency of sitewatch: ``pip install scikit-learn``) adds gradient-boosted
trees of depth 1 (an additive model, like the Bayes step: no item's meaning depends on another's)
and depth 2 (pairs of readings may interact) on ``states+scores`` and ``states+scores+rows``:
what combining readings, rather than adding their weights, is worth. Prints one JSON object.
Takes about (fit-runs + runs × seeds) × 0.4 s of CPU, spread over ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import Any

import numpy as np

from sitewatch.fusion import assessment as A
from sitewatch.fusion import indicators as IND
from sitewatch.fusion import items as IT
from sitewatch.fusion import rules as R
from sitewatch.simulate import calibration as C

Features = dict[str, float]
Row = dict[str, Any]

WINDOWS_DAYS = (2, 4, 7, 12)  # the story starts 3-12 days before the as-of time; the model is not told when
BASE_FROM_DAYS = 12  # rows at least this many days old make the "before" rate


def _features(kind: str, obs: Sequence[IT.Observation], scores: bool) -> Features:
    x: Features = {f"kind={kind}": 1.0}
    for o in obs:
        if o.state is None:
            continue
        x[f"{o.item}={o.state}|{kind}"] = 1.0
        if scores and o.score is not None:
            x[f"{o.item}:score|{kind}"] = float(np.clip(o.score, -6.0, 8.0)) / 4.0
    return x


def _movement(r: Row, legs: dict[Any, int]) -> str:
    ref = r["ref"] or {}
    if ref.get("heavy"):
        return "heavy"
    if ref.get("passenger"):
        return "passenger"
    return "one-way" if legs[r["subject"]] == 1 else "sortie"  # a sortie is out and back the same airframe


def _row_features(rows: Sequence[Row], coverage: Sequence[Row]) -> Features:
    """Counts and imagery levels read from the evidence rows, each window against the time before."""
    last = (C.AS_OF - timedelta(microseconds=1)).date()
    rows = [r for r in rows if r["t_start"] < C.AS_OF]
    covered: dict[str, set[int]] = {"adsb": set(), "ais": set()}
    for c in coverage:
        covered.setdefault(c["source"], set()).add((last - c["day"]).days)
    legs = Counter(r["subject"] for r in rows if r["kind"] in ("air.arrival", "air.departure"))
    ages: dict[str, list[int]] = {}
    scenes: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        kind, ref, age = r["kind"], r["ref"] or {}, (last - r["t_start"].date()).days
        name = None
        if kind in ("air.arrival", "air.departure"):
            name = f"air {_movement(r, legs)} {kind[4:]}"
        elif kind == "air.dark-visit":
            name = "air dark visit"
        elif kind == "sea.vessel-departure":
            name = f"sea departure type {ref.get('ship_type')} gov {bool(ref.get('government'))}"
        elif kind == "sea.port-visit" and ref.get("arrival_observed") is not False:
            name = f"sea visit type {ref.get('ship_type')} gov {bool(ref.get('government'))}"
        elif kind == "sea.loitering":
            ages.setdefault("sea loitering started", []).append(age)
            if (r["t_end"] or r["t_start"]) >= C.AS_OF - timedelta(hours=12):
                ages.setdefault("sea loitering under way", []).append(0)
        elif kind == "imagery.count":
            scenes.setdefault(str(ref.get("class")), []).append((age, float(r["value"])))
        elif kind == "analyst.observation":
            scenes.setdefault("analyst", []).append((age, float(r["value"])))
        if name:
            ages.setdefault(name, []).append(age)
    x: Features = {}
    for name, a in ages.items():
        days = covered["ais" if name.startswith("sea") else "adsb"]
        a_ = np.asarray(a)
        base = float((a_ >= BASE_FROM_DAYS).sum()) / max(1, sum(1 for d in days if d >= BASE_FROM_DAYS))
        for w in WINDOWS_DAYS:
            n_w = float((a_ < w).sum())
            x[f"{name} {w}d"] = math.log1p(n_w)
            x[f"{name} {w}d vs before"] = math.log((n_w + 0.5) / (base * sum(1 for d in days if d < w) + 0.5))
    for cls, sc in scenes.items():
        before = [v for a, v in sc if a >= BASE_FROM_DAYS + 1]
        if not before:
            continue
        mean = float(np.mean(before))
        for w in WINDOWS_DAYS:
            recent = [v for a, v in sorted(sc) if a < w]
            if recent:
                x[f"imagery {cls} {w}d last vs before"] = math.log((recent[0] + 1) / (mean + 1))
                x[f"imagery {cls} {w}d max vs before"] = math.log((max(recent) + 1) / (mean + 1))
                x[f"imagery {cls} {w}d min vs before"] = math.log((min(recent) + 1) / (mean + 1))
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
        both = _features(dr.kind, obs, True)
        out.append({"truth": dr.truth, "kind": dr.kind, "bayes": bayes,
                    "states": _features(dr.kind, obs, False), "states+scores": both,
                    "states+scores+rows": {**both, **{f"{k}|{dr.kind}": v
                                                      for k, v in _row_features(dr.rows, dr.coverage).items()}}})
    return out


FEATURE_SETS = ("states", "states+scores", "states+scores+rows")


def _standardise(x: np.ndarray, index: dict[str, int], scale: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The row features divided by their spread in the fit, so that one L2 penalty suits them all;
    the items' states and scores (and the intercept, last) as they are."""
    if scale is None:
        scale = np.maximum(x[:, :-1].std(axis=0), 1e-6)
        for name, i in index.items():
            if "=" in name or ":score" in name:
                scale[i] = 1.0
    out = x.copy()
    out[:, :-1] /= scale
    return out, scale


def _trees(depth: int, x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier  # optional: see --trees

    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.07, max_depth=depth,
                                          l2_regularization=1.0, random_state=0).fit(x, y)


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
    ap.add_argument("--trees", action="store_true", help="also gradient-boosted trees (needs scikit-learn)")
    a = ap.parse_args()
    if a.trees:
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise SystemExit("--trees needs scikit-learn (pip install scikit-learn); run without --trees otherwise") from None
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
    for fs in FEATURE_SETS:
        index: dict[str, int] = {}
        x = _matrix([r[fs] for r in fit], index, grow=True)
        x, scale = _standardise(x, index)
        trees = {d: _trees(d, x, y_fit) for d in (1, 2)} if a.trees and fs != "states" else {}
        models[fs] = (index, scale, _fit(x, y_fit, len(truths), a.lam), trees)
    report: dict[str, Any] = {"fit_runs": a.fit_runs, "fit_seed": a.fit_seed, "runs": a.runs, "lam": a.lam,
                              "seeds": {}}
    for seed, runs in zip(a.seeds, done[2:], strict=True):
        y = np.array([truths.index(r["truth"]) for r in runs])
        # the Bayes set includes the remainder ("other"); it is never the truth, so its share counts as error
        hyps = truths + sorted({h for r in runs for h in r["bayes"]} - set(truths))
        pb = np.array([[r["bayes"].get(h, 0.0) for h in hyps] for r in runs])
        row: dict[str, Any] = {"bayes (shipped rules)": _score(pb, y)}
        log_prior = np.log(np.array([[rules[t].prior_for(r["kind"]) for t in truths] for r in runs]))
        for fs, (index, scale, w, trees) in models.items():
            x, _ = _standardise(_matrix([r[fs] for r in runs], index, grow=False), index, scale)
            row[f"logistic ({fs})"] = _score(_softmax(x @ w + log_prior), y)
            for depth, model in trees.items():
                # trained on every truth equally often: the kind's prior turns its odds into the world's
                p = model.predict_proba(x) * np.exp(log_prior)
                row[f"trees depth {depth} ({fs})"] = _score(p / p.sum(axis=1, keepdims=True), y)
        report["seeds"][str(seed)] = row
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
