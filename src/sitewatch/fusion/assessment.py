"""Competing hypotheses, judged by Bayes over evidence items, in the words of ICD-203.

Contract: :func:`judge_set` takes the hypotheses that apply to a site (one mutually exclusive
and exhaustive set, :mod:`sitewatch.fusion.rules`, with an explicit remainder ``other``) and
the site's evidence items (:mod:`sitewatch.fusion.items`) and returns one :class:`Assessment`
per hypothesis; their ``probability`` fields sum to 1. :func:`assess` refreshes the evidence,
computes indicators and items, judges the set and, when ``issue`` is true, stores a new
*revision* of the whole set whenever the evidence, the rules or the result changed.

The model (what a number means here):

* ``P(H | E) ∝ prior(H) × Π_groups (Π_items L_eff(state | H)) ** w_group``;
  ``L(state | H)`` is the probability the hypothesis file gives the observed state of the item.
* Reliability ``r`` of an observation (sensor confidence × freshness, see items): the state is
  taken at face value with probability ``r``, otherwise the item says nothing:
  ``L_eff = r × L + (1 − r) × mean_H L``.
* Items that re-read one thing are correlated (the vehicle count on imagery, the analysts'
  reading of the same parks and the staging item built on it; ships in port by AIS and on
  imagery): the ``k`` diagnostic items of such a group *that say the same* — all reading
  nothing out of the ordinary (:data:`~sitewatch.fusion.items.NULL_STATES`), or all reading a
  change — share the weight ``w = 1 / (1 + ρ (k − 1))``, ρ from :data:`GROUP_RHO` (0.5): two
  readings of one thing are not two independent witnesses; a reading that disagrees (AIS saw
  more ships in port, the imagery of that week did not) is not a re-count and keeps its own
  weight. Items that count disjoint things (heavy airlift vs other military flying) count in
  full. Measured on the calibration runs: ρ = 0.5 for every group, airlift and
  military flying included, left bins off by up to 0.32; this split keeps every bin with ≥ 20
  cases within 0.10.
* An item whose effective likelihoods differ by less than :data:`NON_DIAGNOSTIC_RATIO`
  between the hypotheses is *non-diagnostic* (Heuer): listed, weight 0, it moves nothing.
* No fresh, diagnostic evidence at all → ``status`` "insufficient current evidence": the
  probabilities shown are the priors, and no likelihood word is claimed.

ACH (Heuer): the matrix of items × hypotheses with each cell's likelihood and consistency
(CC/C/N/I/II relative to the mean over hypotheses), each item's diagnosticity (max/min
effective likelihood), inconsistency scores, the *linchpins* of the leading judgement (items
whose removal changes the leader) and the observation that would best separate the two
leading hypotheses (largest Hellinger distance between their predicted states).

Confidence (ICD-203 keeps it apart from likelihood): *high* needs the leader ahead of the
runner-up by a factor ≥ 3, three or more independent sources favouring it, none strongly
against, mean reliability ≥ 0.7 and no linchpin; *moderate* needs a factor ≥ 1.5, two sources
and reliability ≥ 0.5; otherwise *low*.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sitewatch.fusion import evidence as EV
from sitewatch.fusion import indicators as IND
from sitewatch.fusion import items as IT
from sitewatch.fusion.rules import Rule
from sitewatch.sites import Site
from sitewatch.store import assessments as ASM
from sitewatch.store import evidence as EVD
from sitewatch.store import positions as POS
from sitewatch.store.db import Store

# ICD-203 (Analytic Standards, 2015), section D.6.e: the expressions of likelihood and the
# probability ranges they stand for.
ICD203 = (
    (0.05, "almost no chance"),
    (0.20, "very unlikely"),
    (0.45, "unlikely"),
    (0.55, "roughly even chance"),
    (0.80, "likely"),
    (0.95, "very likely"),
    (1.01, "almost certain"),
)
INSUFFICIENT = "insufficient current evidence"
RHO_CORRELATED = 0.0  # items of different groups, and by default of one group, count in full
# groups whose items re-read one thing: the analysts count the same imagery as the detector,
# staging is built on the vehicle count. The port-traffic items (passenger ships, naval calls,
# other departures) count disjoint departures and arrivals and count in full (measured: Brier
# 0.002–0.003 better on seeds 1–3 than sharing weight, top-1 equal or better)
GROUP_RHO: dict[str, float] = {"vehicles": 0.5, "aircraft": 0.5, "ships in port": 0.5}
TEMPERATURE = 1.0  # evidence log-likelihoods are divided by this (calibrated: see rules calibrate)
NON_DIAGNOSTIC_RATIO = 1.25
MIN_TOTAL_RELIABILITY = 0.5  # below this, summed over diagnostic items: insufficient evidence
STRONG_NATS = 0.2  # net log-likelihood from one source that counts as that source pointing one way
MAX_FOOTNOTES_PER_SENTENCE = 8
SENSOR_NAMES = {"adsb": "ADS-B", "ais": "AIS", "imagery": "imagery", "analyst": "analyst reports"}


def likelihood_word(p: float) -> str:
    for upper, word in ICD203:
        if p < upper:
            return word
    return ICD203[-1][1]


@dataclass
class Sentence:
    text: str
    evidence: list[str] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Contribution:
    """One evidence item's pull on one hypothesis: ``log_odds`` = weighted log of its
    effective likelihood under this hypothesis minus the mean over all hypotheses (nats)."""

    indicator: str  # the evidence item
    series: str
    label: str
    sensor: str
    direction: str  # the observed state
    weight: float  # reliability × the source's correlation weight
    score: float | None
    log_odds: float
    sentence: str
    evidence: list[str]
    status: str
    likelihood: float = 0.0  # P(state | this hypothesis) from the hypothesis file


@dataclass
class Assessment:
    site: str
    hypothesis: str
    title: str
    as_of: datetime
    probability: float
    likelihood: str
    confidence: str
    judgement: Sentence
    confidence_sentence: Sentence
    supporting: list[Sentence]
    against: list[Sentence]
    neutral: list[Sentence]
    missing: list[str]
    change_judgement: list[str]
    contributions: list[Contribution]
    sources_agreeing: list[str]
    sources_against: list[str]
    simulated: bool
    rule_sha256: str
    revision: int = 0
    issued: datetime | None = None
    changes: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str = "assessed"  # assessed | insufficient current evidence
    rank: int = 0
    prior: float = 0.0
    leading: bool = False
    evidence_through: datetime | None = None  # the latest evidence considered
    ach: dict[str, Any] = field(default_factory=dict)
    what_if: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def sentences(self) -> list[Sentence]:
        return [self.judgement, self.confidence_sentence, *self.supporting, *self.against, *self.neutral]

    def evidence_ids(self) -> list[str]:
        ids: list[str] = []
        for s in self.sentences():
            ids += [e for e in s.evidence if e not in ids]
        return ids


@dataclass
class _Scored:
    obs: IT.Observation
    lik: dict[str, float]  # raw P(state | H)
    eff: dict[str, float]  # reliability-mixed
    llr: dict[str, float]  # weighted, centred log-likelihood (nats)
    weight: float
    diagnosticity: float
    diagnostic: bool


def _cite(ids: Iterable[str], limit: int = MAX_FOOTNOTES_PER_SENTENCE) -> list[str]:
    out: list[str] = []
    for i in ids:
        if i not in out:
            out.append(i)
        if len(out) >= limit:
            break
    return out


def _score_items(rules: Sequence[Rule], obs: Sequence[IT.Observation]) -> list[_Scored]:
    """Likelihoods, reliability mixing, diagnosticity and the per-source correlation weight."""
    names = [r.name for r in rules]
    out: list[_Scored] = []
    for o in obs:
        if o.state is None:
            continue
        lik = {r.name: r.likelihood(o.item, o.state) for r in rules}
        mean = sum(lik.values()) / len(lik)
        eff = {h: o.reliability * lik[h] + (1.0 - o.reliability) * mean for h in names}
        ratio = max(eff.values()) / max(min(eff.values()), 1e-12)
        out.append(_Scored(o, lik, eff, {h: 0.0 for h in names}, 0.0, ratio, ratio >= NON_DIAGNOSTIC_RATIO))
    # readings of one thing that say the same share their weight; a reading that disagrees
    # (one sensor saw the change, another did not) is a second witness, not a re-count
    camps: dict[tuple[str, bool], int] = {}
    for x in out:
        if x.diagnostic:
            key = (IT.ITEMS[x.obs.item].group, x.obs.state in IT.NULL_STATES)
            camps[key] = camps.get(key, 0) + 1
    for x in out:
        if not x.diagnostic:
            continue
        g = IT.ITEMS[x.obs.item].group
        k = camps[(g, x.obs.state in IT.NULL_STATES)]
        x.weight = 1.0 / (1.0 + GROUP_RHO.get(g, RHO_CORRELATED) * (k - 1))
        logs = {h: math.log(x.eff[h]) for h in names}
        m = sum(logs.values()) / len(logs)
        x.llr = {h: x.weight * (logs[h] - m) / TEMPERATURE for h in names}
    return out


def _posterior(rules: Sequence[Rule], kind: str, scored: Sequence[_Scored],
               skip: str | None = None) -> dict[str, float]:
    priors = {r.name: r.prior_for(kind) for r in rules}
    z = sum(priors.values())
    logp = {h: math.log(p / z) for h, p in priors.items()}
    for x in scored:
        if x.diagnostic and x.obs.item != skip:
            for h in logp:
                logp[h] += x.llr[h]
    top = max(logp.values())
    w = {h: math.exp(v - top) for h, v in logp.items()}
    tot = sum(w.values())
    return {h: v / tot for h, v in w.items()}


def _consistency(lik: float, mean: float) -> str:
    r = lik / mean if mean > 0 else 1.0
    if r >= 2.0:
        return "CC"
    if r >= 1.25:
        return "C"
    if r <= 0.25:
        return "II"
    if r <= 0.67:
        return "I"
    return "N"


def _ach(rules: Sequence[Rule], kind: str, scored: Sequence[_Scored], post: Mapping[str, float],
         observations: Sequence[IT.Observation]) -> dict[str, Any]:
    names = [r.name for r in rules]
    rows: list[dict[str, Any]] = []
    incons = {h: 0.0 for h in names}
    for x in scored:
        mean = sum(x.lik.values()) / len(x.lik)
        cells = {h: {"likelihood": round(x.lik[h], 3), "consistency": _consistency(x.lik[h], mean)} for h in names}
        for h in names:
            c = cells[h]["consistency"]
            if x.diagnostic and c in ("I", "II"):
                incons[h] += (2.0 if c == "II" else 1.0) * x.obs.reliability * x.weight
        rows.append({"item": x.obs.item, "label": x.obs.label, "state": x.obs.state, "sensor": x.obs.sensor,
                     "reliability": round(x.obs.reliability, 3), "weight": round(x.weight, 3),
                     "diagnosticity": round(x.diagnosticity, 2), "diagnostic": x.diagnostic, "cells": cells,
                     "text": x.obs.text, "evidence": _cite(x.obs.evidence)})
    rows.sort(key=lambda r: (not r["diagnostic"], -float(r["diagnosticity"] or 0.0)))
    order = sorted(names, key=lambda h: -post[h])
    lead, second = order[0], order[1]
    linchpins = []
    for x in scored:
        if not x.diagnostic:
            continue
        without = _posterior(rules, kind, scored, skip=x.obs.item)
        new_lead = max(without, key=lambda h: without[h])
        entry = {"item": x.obs.item, "label": x.obs.label, "state": x.obs.state,
                 "leader_without": new_lead, "probability_without": round(without[new_lead], 3),
                 "lead_probability_without": round(without[lead], 3)}
        if new_lead != lead:
            linchpins.append(entry)
    separator = _separator(rules, lead, second, observations)
    return {"hypotheses": names, "order": order, "rows": rows,
            "inconsistency": {h: round(v, 3) for h, v in incons.items()},
            "linchpins": linchpins, "separator": separator,
            "non_diagnostic": [r["item"] for r in rows if not r["diagnostic"]]}


def _separator(rules: Sequence[Rule], a: str, b: str, observations: Sequence[IT.Observation]) -> dict[str, Any]:
    """The item whose states the two hypotheses predict most differently, preferring items
    not observed (fresh) yet: that is the observation to seek next. When the item chosen is
    already observed, its text says what it reads and which of the two that favours, and
    ``next`` names the most separating item not observed yet (if any separates them)."""
    ra = next(r for r in rules if r.name == a)
    rb = next(r for r in rules if r.name == b)
    best: dict[str, Any] = {}
    unseen: dict[str, Any] = {}
    for o in observations:
        pa, pb = ra.distribution(o.item), rb.distribution(o.item)
        dist = IT.hellinger(pa, pb)
        # an item already observed fresh still separates, but seeking it again adds less
        gain = dist * (1.0 - 0.5 * o.reliability) if o.state is not None else dist
        if not best or gain > best["gain"]:
            best = _separating(o, a, b, pa, pb, dist, gain)
        if o.state is None and dist > 0.0 and (not unseen or dist > unseen["hellinger"]):
            unseen = _separating(o, a, b, pa, pb, dist, dist)
    if not best:
        return best
    best["text"] = f"The observation that would best separate {a} from {b}: {_expects(best, a, b)}"
    if best["observed"]:
        best["text"] += f" It is already observed: {best['observed_words']}{_favours(best, a, b)}."
        if unseen and unseen["item"] != best["item"]:
            unseen["text"] = f"Still to observe, the one to seek next: {_expects(unseen, a, b)}"
            best["next"] = _rounded(unseen)
            best["text"] += " " + unseen["text"]
    return _rounded(best)


def _separating(o: IT.Observation, a: str, b: str, pa: Sequence[float], pb: Sequence[float], dist: float,
                gain: float) -> dict[str, Any]:
    """The separator's entry for item ``o`` (see :func:`_separator`)."""
    d = IT.ITEMS[o.item]
    ia = max(range(len(pa)), key=lambda i: pa[i] - pb[i])
    ib = max(range(len(pb)), key=lambda i: pb[i] - pa[i])
    out: dict[str, Any] = {
        "item": o.item, "label": d.label, "ask": d.ask, "hellinger": dist, "gain": gain,
        "observed": o.state is not None, "observed_state": o.state, "between": [a, b],
        "a_expects": {"state": d.states[ia], "words": d.state_words[d.states[ia]],
                      "p_a": round(pa[ia], 2), "p_b": round(pb[ia], 2)},
        "b_expects": {"state": d.states[ib], "words": d.state_words[d.states[ib]],
                      "p_a": round(pa[ib], 2), "p_b": round(pb[ib], 2)}}
    if o.state is not None and o.state in d.states:
        k = d.states.index(o.state)
        out["observed_words"] = d.state_words.get(o.state, o.state)
        out["observed_p"] = {a: round(pa[k], 2), b: round(pb[k], 2)}
        # which of the two the state observed favours: a ratio of at least NON_DIAGNOSTIC_RATIO
        out["observed_favours"] = (a if pa[k] >= NON_DIAGNOSTIC_RATIO * pb[k] else
                                   b if pb[k] >= NON_DIAGNOSTIC_RATIO * pa[k] else None)
    return out


def _expects(sep: dict[str, Any], a: str, b: str) -> str:
    x, y = sep["a_expects"], sep["b_expects"]
    return (f"{sep['ask']} — {a} expects {x['words']} ({round(x['p_a'] * 100)}% vs {round(x['p_b'] * 100)}%), "
            f"{b} expects {y['words']} ({round(y['p_b'] * 100)}% vs {round(y['p_a'] * 100)}%).")


def _favours(sep: dict[str, Any], a: str, b: str) -> str:
    if "observed_favours" not in sep:
        return ""
    fav = sep["observed_favours"]
    return f", which favours {fav}" if fav else f", which favours neither {a} nor {b}"


def _rounded(sep: dict[str, Any]) -> dict[str, Any]:
    sep["hellinger"] = round(float(sep["hellinger"]), 3)
    sep["gain"] = round(float(sep["gain"]), 3)
    return sep


def _claims(o: IT.Observation, stated: bool = True) -> list[dict[str, Any]]:
    out = []
    for c in o.claims:
        j = c.as_json()
        j["stated"] = stated and c.stated
        out.append(j)
    return out


def _reason(o: IT.Observation, label: str) -> str:
    """What a reading says, in its state's words (a reason in a list: no qualifying clause)."""
    words = IT.ITEMS[o.item].state_words.get(o.state or "")
    if words:
        return words
    return o.text.split(" → ")[-1] if " → " in o.text else label


def _sentence_of(o: IT.Observation) -> Sentence:
    # every row a stated number is computed from is cited (no cap: a count must be recountable)
    return Sentence(o.text, list(dict.fromkeys(o.evidence)), _claims(o))


def judge_set(rules: Sequence[Rule], site: Site, observations: Sequence[IT.Observation], as_of: datetime,
              evidence: Mapping[str, Mapping[str, Any]]) -> list[Assessment]:
    """Judge the hypotheses ``rules`` (one exhaustive set) on ``observations`` of ``site``."""
    kind = site.kind
    rules = [r for r in rules if r.applies_to(kind)]
    scored = _score_items(rules, observations)
    post = _posterior(rules, kind, scored)
    diag = [x for x in scored if x.diagnostic]
    total_rel = sum(x.obs.reliability for x in diag)
    insufficient = not diag or total_rel < MIN_TOTAL_RELIABILITY
    priors = {r.name: r.prior_for(kind) for r in rules}
    z = sum(priors.values())
    if insufficient:
        post = {h: p / z for h, p in priors.items()}
    order = sorted(post, key=lambda h: -post[h])
    lead = order[0]
    second = order[1] if len(order) > 1 else order[0]
    ach = _ach(rules, kind, scored, post, observations) if len(rules) > 1 else {}
    sim = any(bool(evidence[e].get("simulated")) for x in scored for e in x.obs.evidence if e in evidence)
    through = max((evidence[e]["t_start"] for x in scored for e in x.obs.evidence if e in evidence), default=None)
    # confidence of the set: how well the leader stands against the runner-up
    by_sensor: dict[str, float] = {}
    for x in diag:
        by_sensor[x.obs.sensor] = by_sensor.get(x.obs.sensor, 0.0) + x.llr[lead] - x.llr[second]
    favour = sorted(k for k, v in by_sensor.items() if v >= STRONG_NATS)
    oppose = sorted(k for k, v in by_sensor.items() if v <= -STRONG_NATS)
    rel = [x.obs.reliability for x in diag if x.obs.sensor in favour]
    mean_rel = sum(rel) / len(rel) if rel else 0.0
    ratio = post[lead] / max(post[second], 1e-12)
    linch = ach.get("linchpins", [])
    if insufficient:
        level = "low"
    elif ratio >= 3.0 and len(favour) >= 3 and not oppose and mean_rel >= 0.7 and not linch:
        level = "high"
    elif ratio >= 1.5 and len(favour) >= 2 and mean_rel >= 0.5:
        level = "moderate"
    else:
        level = "low"
    missing = [o.text for o in observations if o.state is None]
    out: list[Assessment] = []
    for rank, r in enumerate(sorted(rules, key=lambda r: -post[r.name]), start=1):
        out.append(_one(r, site, as_of, post, priors[r.name] / z, rank, lead, second, scored, level, favour, oppose,
                        mean_rel, ratio, insufficient, missing, ach, sim, through, observations))
    return out


def _one(r: Rule, site: Site, as_of: datetime, post: Mapping[str, float], prior: float, rank: int, lead: str,
         second: str, scored: Sequence[_Scored], level: str, favour: list[str], oppose: list[str],
         mean_rel: float, ratio: float, insufficient: bool, missing: list[str], ach: dict[str, Any],
         sim: bool, through: datetime | None, observations: Sequence[IT.Observation]) -> Assessment:
    h = r.name
    p = post[h]
    contribs = [Contribution(x.obs.item, x.obs.series, x.obs.label, x.obs.sensor, str(x.obs.state),
                             round(x.weight * x.obs.reliability, 3), x.obs.score, x.llr[h], x.obs.text,
                             list(x.obs.evidence), "scored" if x.diagnostic else "non-diagnostic", x.lik[h])
                for x in scored]
    # for, against or neither as the ACH matrix grades the item's cell (consistent C/CC,
    # inconsistent I/II, neutral N), so that the lists and the matrix never disagree
    grade = {x.obs.item: _consistency(x.lik[h], sum(x.lik.values()) / len(x.lik)) for x in scored}
    sup = sorted((c for c in contribs if grade[c.indicator] in ("C", "CC")), key=lambda c: -c.log_odds)
    opp = sorted((c for c in contribs if grade[c.indicator] in ("I", "II")), key=lambda c: c.log_odds)
    neu = [c for c in contribs if grade[c.indicator] == "N"]
    by_sensor: dict[str, float] = {}
    for c in contribs:
        by_sensor[c.sensor] = by_sensor.get(c.sensor, 0.0) + c.log_odds
    agreeing = sorted(k for k, v in by_sensor.items() if v >= STRONG_NATS)
    against = sorted(k for k, v in by_sensor.items() if v <= -STRONG_NATS)
    statement = r.statement.format(site=site.label or site.name)
    obs_by_item = {x.obs.item: x.obs for x in scored}
    if insufficient:
        word = INSUFFICIENT
        jtext = (f"{r.title}: {INSUFFICIENT} — no fresh, diagnostic evidence as of {_iso(as_of)}; the "
                 f"{round(p * 100)}% shown is the starting weight (prior) of this hypothesis, not a judgement.")
        jev: list[str] = []
        jclaims: list[dict[str, Any]] = []
    else:
        word = likelihood_word(p)
        why = sup[:3]
        # key events that favour the hypothesis are always named (the decisive evidence)
        for c in sup:
            if c.indicator in ("dark_transport", "navy_offshore", "staging") and c not in why:
                why.append(c)
        reasons = "; ".join(_reason(obs_by_item[c.indicator], c.label) for c in why)
        lead_words = "the leading hypothesis" if h == lead else f"ranked {rank} of {len(post)}"
        verb = "there is" if word.endswith("chance") else "it is"
        jtext = f"{r.title} ({lead_words}): {verb} {word} (about {round(p * 100)}%) that {statement}"
        jtext += f" — chiefly: {reasons}." if why else "."
        jev, jclaims = [], []
        for c in why:
            o = obs_by_item[c.indicator]
            jev += _cite(o.evidence, 3 if c.indicator not in ("dark_transport", "navy_offshore") else 8)
            jclaims += _claims(o, stated=False)
        jev = _cite(jev, 24)
    src = ", ".join(SENSOR_NAMES.get(a, a) for a in favour) or "none"
    if insufficient:
        ctext = ("Confidence is low: there is no fresh, diagnostic evidence (every source's latest reading is "
                 "too old, missing or says the same under every hypothesis)")
    else:
        ctext = (f"Confidence in the set is {level}: the leader ({lead}) is {ratio:.1f} times as probable as the "
                 f"runner-up ({second}); ")
        if favour:
            ctext += (f"{len(favour)} independent source{'s' if len(favour) != 1 else ''} ({src}) "
                      f"favour{'s' if len(favour) == 1 else ''} it over the runner-up")
        else:  # items may still be consistent with the leader ("+" lines), but none tells it from the runner-up
            ctext += "no source favours it over the runner-up"
        if oppose:
            names = [SENSOR_NAMES.get(a, a) for a in oppose]
            one = len(names) == 1 and not names[0].endswith("reports")  # "analyst reports point to"
            ctext += f"; {', '.join(names)} point{'s' if one else ''} to {second}"
        if favour:
            ctext += f"; mean reliability of the favouring evidence {mean_rel:.2f}"
        if ach.get("linchpins"):
            ctext += "; the lead rests on " + ", ".join(x["label"] for x in ach["linchpins"])
    if sim:
        ctext += "; some of the evidence is SIMULATED"
    change = [f"Not observed: {m}" for m in missing]
    sep = ach.get("separator") or {}
    if sep.get("text") and h in (lead, second):
        change.insert(0, str(sep["text"]))
    for lp in ach.get("linchpins", []) if h == lead else []:
        change.insert(0, f"Linchpin: without “{lp['label']}” ({lp['state']}) the leader would be "
                         f"{lp['leader_without']} ({round(lp['probability_without'] * 100)}%).")
    change += [f"Next useful observation: {x}" for x in r.next_observations]
    column = {row["item"]: row["cells"][h] for row in ach.get("rows", [])}
    a = Assessment(
        site.name, h, r.title, as_of, p, word, level, Sentence(jtext, jev, jclaims), Sentence(ctext + ".", []),
        [_sentence_of(obs_by_item[c.indicator]) for c in sup],
        [_sentence_of(obs_by_item[c.indicator]) for c in opp],
        [_sentence_of(obs_by_item[c.indicator]) for c in neu],
        missing, change, contribs, agreeing, against, sim, r.sha256,
        status=INSUFFICIENT if insufficient else "assessed", rank=rank, prior=prior, leading=h == lead,
        evidence_through=through, ach={**ach, "column": column} if h == lead else {"column": column},
    )
    return a


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def evidence_hash(rows: Iterable[Mapping[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: str(r["evidence_id"])):
        h.update(f"{r['evidence_id']}|{r['value']}|{r['confidence']}\n".encode())
    return h.hexdigest()


def items_for(store: Store, site: Site, as_of: datetime | None = None, near_km: float = EV.DEFAULT_NEAR_KM,
              window_days: int = IND.WINDOW_DAYS) -> tuple[datetime, list[dict[str, Any]], list[IND.Series],
                                                          list[IT.Observation]]:
    """(as_of, evidence rows considered, indicator series, item observations) of ``site``."""
    rows = EVD.list_evidence(store, site.name)
    coverage = POS.coverage_days(store, EV.near_bbox(site, near_km))
    if as_of is None:
        as_of = IND.default_as_of(rows, coverage) or datetime.now(UTC).replace(hour=0, minute=0, second=0,
                                                                              microsecond=0)
    considered = [r for r in rows if r["t_start"] < as_of]
    series = IND.compute_from_rows(considered, coverage, site, as_of, None, window_days)
    obs = IT.observe(site, series, considered, coverage, as_of)
    return as_of, considered, series, obs


@dataclass
class Judged:
    """The assessment set of a site as of ``as_of`` and the inputs it was judged on (so a
    report renders from what was judged instead of reading and computing a second time)."""

    assessments: list[Assessment]
    as_of: datetime
    rows: list[dict[str, Any]]  # every evidence row before as_of (coverage rows included)
    series: list[IND.Series]
    observations: list[IT.Observation]
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.by_id:
            self.by_id = {str(r["evidence_id"]): r for r in self.rows}

    @property
    def leading(self) -> Assessment | None:
        ranked = sorted(self.assessments, key=lambda a: (a.rank or 99, -a.probability))
        return ranked[0] if ranked else None

    def series_named(self, name: str) -> IND.Series | None:
        return next((s for s in self.series if s.name == name), None)


def judge_site(store: Store, site: Site, rules: Mapping[str, Rule] | Sequence[Rule], as_of: datetime | None = None,
               near_km: float = EV.DEFAULT_NEAR_KM, window_days: int = IND.WINDOW_DAYS, refresh: bool = True,
               issue: bool = True) -> Judged:
    """Judge the hypothesis set for ``site`` as of ``as_of`` once; ``issue``: store a revision of
    the set when anything changed (a what-if at another time passes ``issue=False``)."""
    if refresh:
        EV.refresh(store, [site], near_km)
    as_of, considered, series, obs = items_for(store, site, as_of, near_km, window_days)
    by_id = {str(r["evidence_id"]): r for r in considered}
    rule_list = list(rules.values()) if isinstance(rules, Mapping) else list(rules)
    out = judge_set(rule_list, site, obs, as_of, by_id) if rule_list else []
    if issue and out:
        issue_set(store, out, evidence_hash(considered), sorted(by_id), by_id)
    else:
        for a in out:
            a.what_if = not issue
    return Judged(out, as_of, considered, series, obs, by_id)


def assess(store: Store, site: Site, rules: Mapping[str, Rule], as_of: datetime | None = None,
           near_km: float = EV.DEFAULT_NEAR_KM, window_days: int = IND.WINDOW_DAYS,
           refresh: bool = True, issue: bool = True) -> list[Assessment]:
    """The assessments of :func:`judge_site` (ranked, probabilities summing to 1)."""
    return judge_site(store, site, rules, as_of, near_km, window_days, refresh, issue).assessments


def issue_set(store: Store, items: Sequence[Assessment], ev_hash: str, ids: list[str],
               by_id: Mapping[str, Mapping[str, Any]]) -> None:
    """Issue a new revision of every hypothesis when any of them changed (they compete: one
    moving moves the others), else keep the standing revisions."""
    prevs = {a.hypothesis: ASM.assessment_revisions(store, a.site, a.hypothesis, a.as_of) for a in items}
    unchanged = all(
        prevs[a.hypothesis]
        and prevs[a.hypothesis][-1]["evidence_hash"] == ev_hash
        and prevs[a.hypothesis][-1]["rule_sha256"] == a.rule_sha256
        and (round(prevs[a.hypothesis][-1]["probability"], 3), prevs[a.hypothesis][-1]["likelihood"],
             prevs[a.hypothesis][-1]["confidence"]) == (round(a.probability, 3), a.likelihood, a.confidence)
        for a in items)
    now = datetime.now(UTC)
    for a in items:
        history = prevs[a.hypothesis]
        a.history = [{"revision": h["revision"], "issued": h["t_issued_utc"], "likelihood": h["likelihood"],
                      "probability": h["probability"], "confidence": h["confidence"], "changes": h["changes"]}
                     for h in history]
        prev = history[-1] if history else None
        if unchanged and prev is not None:
            a.revision, a.issued, a.changes = prev["revision"], prev["t_issued_utc"], prev["changes"]
            continue
        changes = _changes(a, prev, ev_hash, ids, by_id)
        a.revision = (prev["revision"] if prev else 0) + 1
        a.issued, a.changes = now, changes
        body = a.as_json()
        body.pop("history", None)
        ASM.insert_assessment(store, {
            "assessment_id": f"{a.site}|{a.hypothesis}|{a.as_of.isoformat()}|{a.revision}",
            "site": a.site, "hypothesis": a.hypothesis, "t_as_of": a.as_of, "revision": a.revision,
            "t_issued_utc": now, "probability": a.probability, "likelihood": a.likelihood,
            "confidence": a.confidence, "evidence_hash": ev_hash, "evidence_ids": ids, "body": body,
            "changes": changes, "rule_sha256": a.rule_sha256,
        })
        a.history.append({"revision": a.revision, "issued": now, "likelihood": a.likelihood,
                          "probability": a.probability, "confidence": a.confidence, "changes": changes})


def _changes(a: Assessment, prev: Mapping[str, Any] | None, ev_hash: str, ids: list[str],
             by_id: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if prev is None:
        return {"reason": "first issue"}
    old = set(prev["evidence_ids"] or [])
    added = [i for i in ids if i not in old]
    removed = sorted(old - set(ids))
    kinds: dict[str, int] = {}
    for i in added:
        k = str(by_id[i]["kind"])
        kinds[k] = kinds.get(k, 0) + 1
    parts = []
    if added:
        parts.append(f"{len(added)} new evidence row{'s' if len(added) != 1 else ''} ("
                     + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ") about times before "
                     f"{a.as_of.isoformat()} arrived after revision {prev['revision']}")
    if removed:
        parts.append(f"{len(removed)} evidence row(s) no longer present (data re-analysed or removed)")
    if prev["evidence_hash"] != ev_hash and not added and not removed:
        parts.append("values or confidence of existing evidence changed")
    if prev["rule_sha256"] != a.rule_sha256:
        parts.append("the hypothesis file was edited")
    if prev["evidence_hash"] == ev_hash and prev["rule_sha256"] == a.rule_sha256:
        parts.append("same evidence and hypothesis file; another hypothesis of the set, a setting or the "
                     "sitewatch version changed the result")
    if prev["likelihood"] != a.likelihood:
        parts.append(f"likelihood {prev['likelihood']} → {a.likelihood}")
    else:
        parts.append(f"likelihood unchanged ({a.likelihood})")
    if prev["confidence"] != a.confidence:
        parts.append(f"confidence {prev['confidence']} → {a.confidence}")
    return {"reason": "; ".join(parts), "added": added[:200], "added_count": len(added),
            "removed": removed[:200], "probability": [prev["probability"], a.probability],
            "likelihood": [prev["likelihood"], a.likelihood], "confidence": [prev["confidence"], a.confidence]}


# -- text ---------------------------------------------------------------------------------

_ABBR = {"withdrawal": "WDR", "reinforcement": "REI", "evacuation": "EVA", "repositioning": "REP",
         "exercise": "EXE", "routine": "ROU", "other": "OTH"}


def ach_text(ach: Mapping[str, Any]) -> list[str]:
    """The ACH matrix as fixed-width text rows."""
    if not ach or not ach.get("rows"):
        return []
    order = list(ach["order"])
    heads = [_ABBR.get(h, h[:3].upper()) for h in order]
    lines = ["ACH matrix (evidence × hypotheses; CC/C consistent, N neutral, I/II inconsistent; "
             "diag. = max/min effective likelihood):",
             "  " + f"{'evidence (state)':<46}" + " ".join(f"{x:>4}" for x in heads) + "  diag."]
    for row in ach["rows"]:
        label = _cell_label(str(row["label"]), str(row["state"]), 46)
        cells = " ".join(f"{row['cells'][h]['consistency']:>4}" for h in order)
        d = f"{row['diagnosticity']:.1f}" + ("" if row["diagnostic"] else " non-diagnostic")
        lines.append(f"  {label:<46}{cells}  {d}")
    lines.append("  " + f"{'inconsistency (weighted)':<46}"
                 + " ".join(f"{ach['inconsistency'][h]:>4.1f}" for h in order))
    lines.append("  " + ", ".join(f"{_ABBR.get(h, h)} = {h}" for h in order))
    return lines


def _cell_label(label: str, state: str, width: int) -> str:
    """``label (state)`` in ``width`` characters: a long label is shortened, never the state
    (the state is what the row reads)."""
    text = f"{label} ({state})"
    if len(text) <= width:
        return text
    room = width - len(state) - 4  # " (", ")", "…"
    if room < 8:
        return text[:width - 1] + "…"
    return f"{label[:room].rstrip()}… ({state})"


def marks(nums: Sequence[int]) -> str:
    """Footnote marks with runs collapsed: [1][2][3][7] → [1–3][7]."""
    out: list[str] = []
    ns = sorted(set(nums))
    i = 0
    while i < len(ns):
        j = i
        while j + 1 < len(ns) and ns[j + 1] == ns[j] + 1:
            j += 1
        out.append(f"[{ns[i]}–{ns[j]}]" if j - i >= 2 else "".join(f"[{n}]" for n in ns[i:j + 1]))
        i = j + 1
    return "".join(out)


def render_text(assessments: Sequence[Assessment], evidence: Mapping[str, Mapping[str, Any]]) -> str:
    """Plain text: the set's bottom line, the ranking, the ACH matrix, each hypothesis's
    sentences with [n] footnotes, then the footnotes."""
    notes: list[str] = []

    def cite(ids: Sequence[str]) -> str:
        nums = []
        for i in ids:
            if i not in notes:
                notes.append(i)
            nums.append(notes.index(i) + 1)
        return (" " + marks(nums)) if nums else ""

    lines: list[str] = []
    ordered = sorted(assessments, key=lambda x: (x.rank or 99, -x.probability))
    if ordered:
        a0 = ordered[0]
        thru = f"; latest evidence {_iso(a0.evidence_through)}" if a0.evidence_through else ""
        what_if = " (what-if: not saved)" if a0.what_if else ""
        lines.append(f"{a0.site}: assessment as of {_iso(a0.as_of)}{thru}{what_if}")
        if any(a.simulated for a in assessments):
            lines.append("*** SIMULATED: some of the evidence below comes from a simulator ***")
        lines.append("")
        lines.append(f"Bottom line: {a0.judgement.text}{cite(a0.judgement.evidence)}")
        lines.append(f"  {a0.confidence_sentence.text}")
        lines.append("")
        lines.append("Competing hypotheses (one exhaustive set; probabilities sum to 100%):")
        for a in ordered:
            word = a.likelihood if a.status != INSUFFICIENT else "prior only"
            lines.append(f"  {a.rank}. {a.hypothesis:<14} {a.probability * 100:5.1f}%  {word}  (prior "
                         f"{a.prior * 100:.0f}%)")
        lines.append("")
        lines += ach_text(a0.ach)
        for lp in a0.ach.get("linchpins", []):
            lines.append(f"  Linchpin: without “{lp['label']}” the leader would be {lp['leader_without']}.")
        sep = a0.ach.get("separator") or {}
        if sep.get("text"):
            lines.append(f"  {sep['text']}")
        lines.append("")
    for a in ordered:
        lines.append(f"{a.judgement.text}{cite(a.judgement.evidence)}")
        for s in a.supporting:
            lines.append(f"  + {s.text}{cite(s.evidence)}")
        for s in a.against:
            lines.append(f"  - {s.text}{cite(s.evidence)}")
        for s in a.neutral:
            lines.append(f"  = {s.text}{cite(s.evidence)}")
        if a.leading:
            lines.append("  What would change this judgement:")
            lines += [f"    * {c}" for c in a.change_judgement]
        if a.revision:
            lines.append(f"  Revision {a.revision}: {(a.changes or {}).get('reason', '')}")
        lines.append("")
    if notes:
        lines.append("Evidence:")
        for n, i in enumerate(notes, start=1):
            r = evidence.get(i)
            if r is None:
                lines.append(f"  [{n}] {i}")
                continue
            t = r["t_start"].astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
            prov = ", ".join(x for x in (r["sensor"], r.get("provider") or "",
                                         (r.get("file_sha256") or "")[:12]) if x)
            sim = " SIMULATED" if r.get("simulated") else ""
            lines.append(f"  [{n}] {i} {t} {r['kind']}: {r['text']} ({prov}; confidence {r['confidence']:.2f}){sim}")
    return "\n".join(lines) + "\n"
