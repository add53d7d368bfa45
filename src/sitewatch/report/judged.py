"""One pass of the judgement the report renders: the assessment set and what it was made from.

Contract: :func:`judge` (:func:`sitewatch.fusion.assessment.judge_site`) refreshes the site's evidence, reads it once, computes the indicator
series and evidence items once, judges the hypothesis set and — when ``issue`` — issues it as
:func:`sitewatch.fusion.assessment.assess` does (a new revision only when something changed).
The :class:`Judged` it returns carries the assessments *and* the rows, series and items they
rest on, so the report renders from what was judged instead of reading and computing a
second time. A what-if (``issue=False``, e.g. ``report --to``) stores no assessment.
"""

from __future__ import annotations

from sitewatch.fusion.assessment import Judged
from sitewatch.fusion.assessment import judge_site as _judge_site

__all__ = ["Judged", "judge"]

judge = _judge_site
