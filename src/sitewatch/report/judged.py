"""One pass of the judgement the report renders: the assessment set and what it was made from.

Contract: :func:`judge` refreshes the site's evidence, reads it once, computes the indicator
series and evidence items once, judges the hypothesis set and — when ``issue`` — issues it as
:func:`sitewatch.fusion.assessment.assess` does (a new revision only when something changed).
The :class:`Judged` it returns carries the assessments *and* the rows, series and items they
rest on, so the report renders from what was judged instead of reading and computing a
second time. A what-if (``issue=False``, e.g. ``report --to``) stores no assessment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sitewatch.fusion import assessment as A
from sitewatch.fusion import evidence as EV
from sitewatch.fusion import indicators as IND
from sitewatch.fusion import items as IT
from sitewatch.fusion.rules import Rule
from sitewatch.sites import Site
from sitewatch.store.db import Store


@dataclass
class Judged:
    """The assessment set of a site as of ``as_of`` and the inputs it was judged on."""

    assessments: list[A.Assessment]
    as_of: datetime
    rows: list[dict[str, Any]]  # every evidence row before as_of (coverage rows included)
    series: list[IND.Series]
    observations: list[IT.Observation]
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.by_id:
            self.by_id = {str(r["evidence_id"]): r for r in self.rows}

    @property
    def leading(self) -> A.Assessment | None:
        ranked = sorted(self.assessments, key=lambda a: (a.rank or 99, -a.probability))
        return ranked[0] if ranked else None

    def series_named(self, name: str) -> IND.Series | None:
        return next((s for s in self.series if s.name == name), None)


def judge(store: Store, site: Site, rules: Mapping[str, Rule] | Sequence[Rule], as_of: datetime | None = None,
          near_km: float = EV.DEFAULT_NEAR_KM, window_days: int = IND.WINDOW_DAYS, issue: bool = True,
          refresh: bool = True) -> Judged:
    """Judge ``site`` once; ``issue``: store a revision of the set when anything changed."""
    if refresh:
        EV.refresh(store, [site], near_km)
    as_of, considered, series, obs = A.items_for(store, site, as_of, near_km, window_days)
    by_id = {str(r["evidence_id"]): r for r in considered}
    rule_list = list(rules.values()) if isinstance(rules, Mapping) else list(rules)
    out = A.judge_set(rule_list, site, obs, as_of, by_id) if rule_list else []
    if issue and out:
        # the same issuing step as fusion.assessment.assess (one revision of the whole set)
        A._issue_set(store, out, A.evidence_hash(considered), sorted(by_id), by_id)
    else:
        for a in out:
            a.what_if = not issue
    return Judged(out, as_of, considered, series, obs, by_id)
