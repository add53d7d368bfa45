"""Rule-based assessments in the words of ICD-203, with confidence and revision history.

Contract: :func:`judge` applies one :class:`~sitewatch.fusion.rules.Rule` to a site's
indicator series and returns an :class:`Assessment`: a probability, its ICD-203 likelihood
expression, a separate analytic confidence (high/moderate/low), sentences each footnoted to
the evidence ids behind it, the indicators not observed and what would change the judgement.
:func:`assess` refreshes the evidence, computes the indicators, judges every rule and issues
a new *revision* in the ``assessments`` table only when the evidence considered changed
(late data about times before ``as_of``), recording what changed and why.

Scoring (transparent on purpose, the weights live in the rule files): each rule indicator
with a baseline contributes ``weight × strength`` log-odds, strength = score / 3 clipped to
[-1, 1] (``up``), its negative (``down``), or 1 - |score| / 1.5 clipped to [-1, 1]
(``steady``); the probability is the logistic of logit(prior) + the sum. One independent
source alone cannot take the probability past the rule's ``single_source_cap`` (0.79 by
default, the top of "likely"): a single sensor can be spoofed, switched off or misread. When independent sources
pull opposite ways the log-odds are shrunk toward zero (even chance) by up to 60 % in
proportion to how balanced the disagreement is, so mixed evidence gives a hedged judgement.

Confidence (ICD-203 keeps it apart from likelihood): *high* needs three or more independent
sources (ADS-B, AIS, imagery, analysts) pointing the same way, none strongly the other way,
mean evidence confidence ≥ 0.7 and at least 60 % of the rule's weight observed; *moderate*
needs two agreeing sources and mean confidence ≥ 0.5; anything else is *low*. Simulated
evidence is judged by the same rules (so a simulated scenario exercises the real method) and
every sentence built on it says SIMULATED.
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
from sitewatch.fusion.rules import Rule
from sitewatch.sites import Site
from sitewatch.store import fusion_queries as Q
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
MATERIAL = 2.0  # |score| from which a reading of the last two weeks still counts after it passed
SATURATION = 3.0  # robust standard deviations at which an indicator counts in full
STRONG = 0.25  # |log-odds| from one source that counts as that source pointing one way
P_CEILING = 0.949  # indicator rules never say "almost certain" ...
P_FLOOR = 0.051  # ... nor "almost no chance": that takes direct confirmation
HEDGE = 0.6  # how far balanced disagreement between sources pulls log-odds toward zero
MAX_FOOTNOTES_PER_SENTENCE = 6
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


@dataclass
class Contribution:
    indicator: str
    series: str
    label: str
    sensor: str
    direction: str
    weight: float
    score: float | None
    log_odds: float
    sentence: str
    evidence: list[str]
    status: str


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

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def evidence_ids(self) -> list[str]:
        ids: list[str] = []
        for s in [self.judgement, self.confidence_sentence, *self.supporting, *self.against, *self.neutral]:
            ids += [e for e in s.evidence if e not in ids]
        return ids


def _strength(direction: str, score: float) -> float:
    if direction == "up":
        return max(-1.0, min(1.0, score / SATURATION))
    if direction == "down":
        return max(-1.0, min(1.0, -score / SATURATION))
    return max(-1.0, min(1.0, 1.0 - abs(score) / 1.5))


def effective_score(s: IND.Series, direction: str) -> float | None:
    """The score a rule reads: the current one, unless a *material* reading of the last two
    weeks (|score| ≥ :data:`MATERIAL`: a burst, a level shift) speaks more strongly for the
    rule's direction (``up``: the peak, ``down``: the trough, ``steady``: either extreme).
    A fluctuation within normal never masks a strong current reading the other way."""
    cur = s.score
    if direction == "up" and s.peak_score is not None and s.peak_score >= MATERIAL:
        return max(s.peak_score, cur if cur is not None else s.peak_score)
    if direction == "down" and s.trough_score is not None and s.trough_score <= -MATERIAL:
        return min(s.trough_score, cur if cur is not None else s.trough_score)
    if direction == "steady":
        extremes = [x for x in (s.peak_score, s.trough_score) if x is not None and abs(x) >= MATERIAL]
        if extremes:
            return max([*extremes, *([cur] if cur is not None else [])], key=abs)
    return cur


def _pick(series: Sequence[IND.Series], indicator: str, direction: str) -> IND.Series | None:
    """The series a rule reads for ``indicator``: the site-wide one, unless one of its zones
    (``vehicles@north-park``) reads materially more strongly for ``direction`` (vehicles
    massing in one park while the rest of the site is quiet)."""
    base = next((s for s in series if s.name == indicator), None)
    zones = [s for s in series if s.name.startswith(indicator + "@")]

    def strength(s: IND.Series) -> float:
        sc = effective_score(s, direction)
        if sc is None:
            return -math.inf
        return abs(sc) if direction == "steady" else _strength(direction, sc)

    if base is None or base.status != "observed":
        obs = [z for z in zones if z.status == "observed"]
        if obs:
            return max(obs, key=strength)
        return base or (zones[0] if zones else None)
    best = max(zones, key=strength, default=None)
    if best is not None:
        sc = effective_score(best, direction)
        if sc is not None and abs(sc) >= MATERIAL and strength(best) > strength(base):
            return best
    return base


def _cite(ids: Iterable[str], limit: int = MAX_FOOTNOTES_PER_SENTENCE) -> list[str]:
    out: list[str] = []
    for i in ids:
        if i not in out:
            out.append(i)
        if len(out) >= limit:
            break
    return out


def judge(rule: Rule, site: Site, series: Sequence[IND.Series], as_of: datetime,
          evidence: Mapping[str, Mapping[str, Any]]) -> Assessment:
    """Apply ``rule`` to ``series``; ``evidence`` maps evidence id → row (for quality/simulated)."""
    contribs: list[Contribution] = []
    missing: list[str] = []
    observed_weight = 0.0
    applicable = [ri for ri in rule.indicators if ri.applies_to(site.kind)] or list(rule.indicators)
    for ri in applicable:
        s = _pick(series, ri.indicator, ri.direction)
        if s is None or s.status != "observed":
            label = s.label if s is not None else IND.INDICATORS[ri.indicator].label
            why = s.sentence if s is not None else f"{label}: not observed"
            missing.append(why)
            continue
        observed_weight += ri.weight
        score = effective_score(s, ri.direction)
        lo = 0.0 if score is None else ri.weight * _strength(ri.direction, score)
        ev = list(s.evidence)
        if score is not None and score != s.score:
            day = s.peak_day if score == s.peak_score else s.trough_day
            ev = _cite([e for d in s.days if d.day == day for e in d.evidence] + ev, 12)
        contribs.append(Contribution(ri.indicator, s.name, s.label, s.sensor, ri.direction, ri.weight,
                                     score, lo, f"{s.sentence} ({ri.why})" if ri.why else s.sentence,
                                     ev, "no baseline" if score is None else "scored"))
    prior_lo = math.log(rule.prior / (1 - rule.prior))
    total = sum(c.log_odds for c in contribs)
    by_sensor: dict[str, float] = {}
    for c in contribs:
        by_sensor[c.sensor] = by_sensor.get(c.sensor, 0.0) + c.log_odds
    sign = 1.0 if total >= 0 else -1.0
    agreeing = sorted(k for k, v in by_sensor.items() if v * sign >= STRONG)
    against = sorted(k for k, v in by_sensor.items() if v * sign <= -STRONG)
    # independent sources pulling opposite ways: the judgement moves toward even chance in
    # proportion to how balanced the disagreement is (1 = as much against as for)
    pro = sum(v for v in by_sensor.values() if v > 0)
    con = -sum(v for v in by_sensor.values() if v < 0)
    conflict = min(pro, con) / max(pro, con) if min(pro, con) >= STRONG else 0.0
    p = 1.0 / (1.0 + math.exp(-(prior_lo + total) * (1.0 - HEDGE * conflict)))
    # indicators are indirect: "almost certain" / "almost no chance" need direct confirmation
    p = min(max(p, P_FLOOR), P_CEILING)
    if len(agreeing) <= 1 and total > 0:
        p = min(p, max(rule.single_source_cap, rule.prior))
    if len(agreeing) <= 1 and total < 0:
        p = max(p, min(1.0 - rule.single_source_cap, rule.prior))
    word = likelihood_word(p)
    # quality: mean confidence of the evidence behind the agreeing contributions
    used = [e for c in contribs if c.sensor in agreeing for e in c.evidence]
    quals = [float(evidence[e]["confidence"]) for e in used if e in evidence]
    quality = sum(quals) / len(quals) if quals else 0.0
    simulated = any(bool(evidence[e].get("simulated")) for c in contribs for e in c.evidence if e in evidence)
    coverage = observed_weight / sum(ri.weight for ri in applicable)
    if len(agreeing) >= 3 and not against and quality >= 0.7 and coverage >= 0.6:
        level = "high"
    elif len(agreeing) >= 2 and quality >= 0.5:
        level = "moderate"
    else:
        level = "low"
    statement = rule.statement.format(site=site.label or site.name)
    supporting = sorted((c for c in contribs if c.log_odds >= 0.05), key=lambda c: -c.log_odds)
    opposing = sorted((c for c in contribs if c.log_odds <= -0.05), key=lambda c: c.log_odds)
    neutral = [c for c in contribs if -0.05 < c.log_odds < 0.05]
    lead = supporting if total >= 0 else opposing
    judgement = Sentence(
        f"{rule.title}: it is {word} (about {round(p * 100)}%) that {statement}.",
        _cite(e for c in lead for e in c.evidence),
    )
    src_words = ", ".join(SENSOR_NAMES.get(a, a) for a in agreeing) or "none"
    conf_text = (f"Confidence is {level}: {len(agreeing)} independent source{'s' if len(agreeing) != 1 else ''} "
                 f"({src_words}) point{'s' if len(agreeing) == 1 else ''} the same way")
    if against:
        conf_text += f", {', '.join(SENSOR_NAMES.get(a, a) for a in against)} point{'s' if len(against) == 1 else ''} the other way"
    conf_text += (f"; mean evidence confidence {quality:.2f}" if quals else
                  "; the agreeing indicators are quiet (no events to rate)")
    conf_text += f"; {round(coverage * 100)}% of the rule's indicator weight was observed"
    if not contribs:
        conf_text = ("Confidence is low: no indicator of this rule was observed, so the likelihood is the "
                     "rule's starting point (its prior)")
    elif all(c.status == "no baseline" for c in contribs):
        conf_text = ("Confidence is low: none of the observed indicators has enough history for a baseline yet, "
                     "so the likelihood is the rule's starting point (its prior), not a reading of the evidence")
    if simulated:
        conf_text += "; some of the evidence is SIMULATED"
    conf_cites: list[str] = []
    for a in agreeing + against:
        conf_cites += _cite((e for c in contribs if c.sensor == a for e in c.evidence), 2)
    change = [f"Not observed: {m}" for m in missing]
    if len(agreeing) < 3:
        others = [SENSOR_NAMES[k] for k in ("adsb", "ais", "imagery", "analyst") if k not in agreeing]
        change.append(f"Corroboration from {', '.join(others)} would raise confidence; contrary readings "
                      "there would lower the likelihood.")
    change += [f"Next useful observation: {x}" for x in rule.next_observations]
    return Assessment(
        site.name, rule.name, rule.title, as_of, p, word, level, judgement, Sentence(conf_text + ".", conf_cites),
        [Sentence(c.sentence, _cite(c.evidence)) for c in supporting],
        [Sentence(c.sentence, _cite(c.evidence)) for c in opposing],
        [Sentence(c.sentence, _cite(c.evidence)) for c in neutral],
        missing, change, contribs, agreeing, against, simulated, rule.sha256,
    )


def evidence_hash(rows: Iterable[Mapping[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: str(r["evidence_id"])):
        h.update(f"{r['evidence_id']}|{r['value']}|{r['confidence']}\n".encode())
    return h.hexdigest()


def assess(store: Store, site: Site, rules: Mapping[str, Rule], as_of: datetime | None = None,
           near_km: float = EV.DEFAULT_NEAR_KM, window_days: int = IND.WINDOW_DAYS,
           refresh: bool = True, issue: bool = True) -> list[Assessment]:
    """Judge every rule for ``site`` as of ``as_of`` and issue revisions where evidence changed."""
    if refresh:
        EV.refresh(store, [site], near_km)
    rows = Q.list_evidence(store, site.name)
    coverage = Q.coverage_days(store, EV.near_bbox(site, near_km))
    if as_of is None:
        as_of = IND.default_as_of(rows, coverage) or datetime.now(UTC).replace(hour=0, minute=0, second=0,
                                                                              microsecond=0)
    considered = [r for r in rows if r["t_start"] < as_of]
    series = IND.compute_from_rows(considered, coverage, site, as_of, None, window_days)
    by_id = {r["evidence_id"]: r for r in considered}
    ev_hash = evidence_hash(considered)
    out = []
    for rule in rules.values():
        a = judge(rule, site, series, as_of, by_id)
        if issue:
            _issue(store, a, ev_hash, sorted(by_id), by_id)
        out.append(a)
    return out


def _issue(store: Store, a: Assessment, ev_hash: str, ids: list[str],
           by_id: Mapping[str, Mapping[str, Any]]) -> None:
    history = Q.assessment_revisions(store, a.site, a.hypothesis, a.as_of)
    prev = history[-1] if history else None
    a.history = [{"revision": h["revision"], "issued": h["t_issued_utc"], "likelihood": h["likelihood"],
                  "probability": h["probability"], "confidence": h["confidence"], "changes": h["changes"]}
                 for h in history]
    same_judgement = prev is not None and (round(prev["probability"], 3), prev["likelihood"], prev["confidence"]) == (
        round(a.probability, 3), a.likelihood, a.confidence)
    if prev is not None and prev["evidence_hash"] == ev_hash and prev["rule_sha256"] == a.rule_sha256 \
            and same_judgement:
        a.revision, a.issued, a.changes = prev["revision"], prev["t_issued_utc"], prev["changes"]
        return
    now = datetime.now(UTC)
    if prev is None:
        changes: dict[str, Any] = {"reason": "first issue"}
    else:
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
            parts.append("the rule file was edited")
        if prev["evidence_hash"] == ev_hash and prev["rule_sha256"] == a.rule_sha256:
            parts.append("same evidence and rule, recomputed with other settings or another sitewatch version")
        if prev["likelihood"] != a.likelihood:
            parts.append(f"likelihood {prev['likelihood']} → {a.likelihood}")
        else:
            parts.append(f"likelihood unchanged ({a.likelihood})")
        if prev["confidence"] != a.confidence:
            parts.append(f"confidence {prev['confidence']} → {a.confidence}")
        changes = {"reason": "; ".join(parts), "added": added[:200], "added_count": len(added),
                   "removed": removed[:200], "probability": [prev["probability"], a.probability],
                   "likelihood": [prev["likelihood"], a.likelihood], "confidence": [prev["confidence"], a.confidence]}
    a.revision = (prev["revision"] if prev else 0) + 1
    a.issued, a.changes = now, changes
    body = a.as_json()
    body.pop("history", None)
    Q.insert_assessment(store, {
        "assessment_id": f"{a.site}|{a.hypothesis}|{a.as_of.isoformat()}|{a.revision}",
        "site": a.site, "hypothesis": a.hypothesis, "t_as_of": a.as_of, "revision": a.revision,
        "t_issued_utc": now, "probability": a.probability, "likelihood": a.likelihood,
        "confidence": a.confidence, "evidence_hash": ev_hash, "evidence_ids": ids, "body": body,
        "changes": changes, "rule_sha256": a.rule_sha256,
    })
    a.history.append({"revision": a.revision, "issued": now, "likelihood": a.likelihood,
                      "probability": a.probability, "confidence": a.confidence, "changes": changes})


def render_text(assessments: Sequence[Assessment], evidence: Mapping[str, Mapping[str, Any]]) -> str:
    """Plain text: each hypothesis, its sentences with [n] footnotes, then the footnotes."""
    notes: list[str] = []

    def cite(ids: Sequence[str]) -> str:
        marks = []
        for i in ids:
            if i not in notes:
                notes.append(i)
            marks.append(f"[{notes.index(i) + 1}]")
        return (" " + "".join(marks)) if marks else ""

    lines: list[str] = []
    if assessments:
        a0 = assessments[0]
        lines.append(f"{a0.site}: assessment as of {a0.as_of.isoformat().replace('+00:00', 'Z')}")
        if any(a.simulated for a in assessments):
            lines.append("*** SIMULATED: some of the evidence below comes from a simulator ***")
        lines.append("")
    for a in sorted(assessments, key=lambda x: -x.probability):
        lines.append(f"{a.judgement.text}{cite(a.judgement.evidence)}")
        lines.append(f"  {a.confidence_sentence.text}{cite(a.confidence_sentence.evidence)}")
        for s in a.supporting:
            lines.append(f"  + {s.text}{cite(s.evidence)}")
        for s in a.against:
            lines.append(f"  - {s.text}{cite(s.evidence)}")
        for s in a.neutral:
            lines.append(f"  = {s.text}{cite(s.evidence)}")
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
