"""The words and tables of the report's first pages, made from the assessment set alone.

Contract: :class:`Citer` numbers evidence rows in the order they are first cited and writes
footnote marks (runs collapsed: ``[1–3][7]``) that link to the numbered rows of the evidence
table (in the appendix file for the report, in the page itself for the appendix).
:func:`bottom_line` says the leading judgement in plain words — what is judged, how likely
(ICD-203 words and the percentage), with what confidence, chiefly why, and what would change
it (the linchpins and the best separating observation of the leading assessment's ``ach``).
:func:`key_judgements` ranks the set with percentages that add up to exactly 100.0
(largest remainder), :func:`ach_view` lays out the matrix for reading. Nothing is computed
here that the assessment does not already state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from sitewatch.fusion import assessment as A
from sitewatch.fusion import items as IT
from sitewatch.fusion.rules import Rule
from sitewatch.sites import Site


def when(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(UTC).strftime("%a %d %b %Y %H:%MZ")


class Citer:
    """Footnote numbers in order of first citation; marks link to ``target#ev-N``."""

    def __init__(self, by_id: Mapping[str, Mapping[str, Any]], target: str = "",
                 text: Any = None) -> None:
        self.by_id = by_id
        self.target = target
        self.text = text or (lambda r: str(r.get("text") or ""))
        self.order: list[str] = []
        self.numbers: dict[str, int] = {}

    def number(self, i: str) -> int | None:
        if i not in self.by_id:
            return None
        if i not in self.numbers:
            self.order.append(i)
            self.numbers[i] = len(self.order)
        return self.numbers[i]

    def __call__(self, ids: Sequence[str] | None) -> Markup:
        nums = sorted({n for n in (self.number(i) for i in ids or []) if n is not None})
        if not nums:
            return Markup("")
        first = {n: i for i, n in self.numbers.items()}
        out, k = [], 0
        while k < len(nums):
            j = k
            while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
                j += 1
            if j - k < 2:
                j = k
            label = f"{nums[k]}–{nums[j]}" if j > k else f"{nums[k]}"
            title = self.text(self.by_id[first[nums[k]]])[:160]
            out.append(f'<a class="xref" href="{escape(self.target)}#ev-{nums[k]}" title="{escape(title)}">'
                       f"[{label}]</a>")
            k = j + 1
        return Markup(f'<sup class="fn">{"".join(out)}</sup>')


@dataclass
class Part:
    text: str
    evidence: list[str] = field(default_factory=list)
    strong: bool = False


@dataclass
class BottomLine:
    headline: str
    parts: list[Part]
    change: list[Part]
    status: str


def _pct(p: float) -> str:
    v = p * 100
    return f"{v:.0f}%" if v >= 1 else "under 1%"


def _chiefly(a: A.Assessment) -> str:
    text = a.judgement.text
    return text.split(" — chiefly: ", 1)[1].rstrip(".") if " — chiefly: " in text else ""


def bottom_line(assessments: Sequence[A.Assessment], rules: Mapping[str, Rule], site: Site) -> BottomLine | None:
    ranked = sorted(assessments, key=lambda a: (a.rank or 99, -a.probability))
    if not ranked:
        return None
    lead = ranked[0]
    where = site.label or site.name
    rule = rules.get(lead.hypothesis)
    statement = rule.statement.format(site=where) if rule else lead.title
    if lead.status == A.INSUFFICIENT:
        return BottomLine(
            f"{where}: insufficient current evidence to judge",
            [Part(lead.judgement.text, lead.judgement.evidence),
             Part("Every source's latest reading is too old, missing or says the same under every "
                  "hypothesis; the percentages below are the hypotheses' starting weights (priors).")],
            [Part(c) for c in lead.change_judgement[:3]], lead.status)
    parts = [Part(f"We judge it {lead.likelihood} (about {_pct(lead.probability)}) that {statement}.",
                  lead.judgement.evidence, True)]
    why = _chiefly(lead)
    if why:
        parts.append(Part(f"Chiefly: {why}."))
    conf = lead.confidence_sentence.text
    parts.append(Part(conf if conf.lower().startswith("confidence") else f"Confidence is {lead.confidence}: {conf}",
                      lead.confidence_sentence.evidence))
    if len(ranked) > 1:
        second = ranked[1]
        parts.append(Part(f"Runner-up: {second.title.lower()} — {second.likelihood}, about "
                          f"{_pct(second.probability)}."))
    change: list[Part] = []
    ach = lead.ach or {}
    for lp in ach.get("linchpins", []):
        words = IT.ITEMS[lp["item"]].state_words.get(lp["state"], lp["state"]) if lp["item"] in IT.ITEMS else ""
        change.append(Part(f"The lead rests on one item — {lp['label']} ({words}): without it the leading "
                           f"hypothesis would be {lp['leader_without']} (about "
                           f"{_pct(lp['probability_without'])})."))
    if ach.get("rows") and not ach.get("linchpins"):
        change.append(Part(f"No single item decides it: without any one of the evidence items, {lead.hypothesis} "
                           "would still lead."))
    sep = ach.get("separator") or {}
    if sep.get("text"):
        change.append(Part(str(sep["text"])))
    head = f"{lead.title}: {lead.likelihood} ({_pct(lead.probability)}), {lead.confidence} confidence"
    return BottomLine(head, parts, change, lead.status)


@dataclass
class Judgement:
    rank: int
    hypothesis: str
    title: str
    pct: str
    width: float
    words: str
    prior: str
    why: str
    evidence: list[str]
    leading: bool


def shares(ps: Sequence[float], decimals: int = 1) -> list[float]:
    """Percentages rounded to ``decimals`` that add up to exactly 100 (largest remainder)."""
    unit = 10 ** decimals
    total = sum(ps) or 1.0
    raw = [p / total * 100 * unit for p in ps]
    base = [int(r) for r in raw]
    left = 100 * unit - sum(base)
    for i in sorted(range(len(raw)), key=lambda i: -(raw[i] - base[i]))[:max(0, left)]:
        base[i] += 1
    return [b / unit for b in base]


def key_judgements(assessments: Sequence[A.Assessment]) -> list[Judgement]:
    ranked = sorted(assessments, key=lambda a: (a.rank or 99, -a.probability))
    pcts = shares([a.probability for a in ranked])
    out = []
    for a, pct in zip(ranked, pcts, strict=True):
        words = a.likelihood if a.status != A.INSUFFICIENT else "prior only"
        shown = f"{pct:.1f}%" if pct > 0 or a.probability <= 0 else "<0.1%"
        out.append(Judgement(a.rank, a.hypothesis, a.title, shown, max(0.5, pct), words,
                             f"{a.prior * 100:.0f}%", _chiefly(a), a.judgement.evidence, a.leading))
    return out


@dataclass
class AchRow:
    label: str
    state: str
    sensor: str
    cells: list[tuple[str, str]]  # (mark, css class)
    diagnosticity: str
    diagnostic: bool
    evidence: list[str]


CONSISTENCY = {"CC": ("++", "cc"), "C": ("+", "c"), "N": ("·", "n"), "I": ("−", "i"), "II": ("−−", "ii")}


def ach_view(ach: Mapping[str, Any], assessments: Sequence[A.Assessment]) -> dict[str, Any]:
    if not ach or not ach.get("rows"):
        return {}
    order = list(ach["order"])
    pct = dict(zip([a.hypothesis for a in sorted(assessments, key=lambda a: (a.rank or 99, -a.probability))],
                   shares([a.probability for a in sorted(assessments, key=lambda a: (a.rank or 99, -a.probability))]),
                   strict=True))
    rows = []
    for r in ach["rows"]:
        d = IT.ITEMS.get(r["item"])
        words = d.state_words.get(r["state"], r["state"]) if d else r["state"]
        words = words[:1].upper() + words[1:]
        rows.append(AchRow(r["label"], words, A.SENSOR_NAMES.get(r["sensor"], r["sensor"]), [CONSISTENCY.get(r["cells"][h]["consistency"], ("?", "n"))
                                               for h in order],
                           f"×{r['diagnosticity']:.1f}" if r["diagnostic"] else "none", bool(r["diagnostic"]),
                           list(r.get("evidence") or [])))
    return {"heads": [(h, f"{pct.get(h, 0.0):.1f}%") for h in order], "rows": rows,
            "inconsistency": [f"{float(ach['inconsistency'][h]):.1f}" for h in order]}
