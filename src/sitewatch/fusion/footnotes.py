"""Footnote integrity: every number a sentence states is recomputable from its cited rows.

Contract: :func:`check_sentence` returns the problems of one sentence (empty when it holds);
:func:`check` runs it over every sentence of a set of assessments. A sentence states its
numbers as *claims* (:class:`sitewatch.fusion.items.Claim` as JSON): a value, an aggregate
(``count`` of rows, ``sum`` of their values, ``distinct`` subjects), the evidence kinds and a
window. The checker verifies, against the evidence rows themselves:

1. every cited id is a stored evidence row;
2. each stated claim's value equals the aggregate of the cited rows of its kinds inside its
   window (``overlap`` claims: rows whose interval overlaps the window — ongoing episodes);
   a zero is backed by coverage rows of the window (the sensor saw the area);
3. every cited row is of a kind some claim names and lies in that claim's window (no stray
   footnotes: the 15 December scene cannot back a sentence about the 18th);
4. every number left in the text once dates, times, percentages, signed scores, baseline
   statistics and the quoted text of the cited rows are set aside is a stated claim's value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

Row = Mapping[str, Any]

_DERIVED = [
    r"\(baseline:[^)]*\)",  # baseline statistics are derived, labelled as such
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?Z?)?",  # dates and times
    r"\d{1,2}:\d{2}Z?",
    r"[+\-−]\d+(?:\.\d+)?",  # signed scores
    r"\d+(?:\.\d+)?\s*%",  # probabilities
    r"\b\d+(?:\.\d+)? times as probable",
    r"reliability[^;.]*\d\.\d+",
    r"\b\d+-day\b",
    r"shift statistic",
    r"MMSI \d+",  # identifiers, not quantities
    r"ranked \d+ of \d+",
    r"last \d+ days",
    r"\b(?:An|Il|C|A|Tu|Su|MiG|Ka|Mi|KC|RA|UR)-\d+\w*",  # type and registration names
]
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?![\w.])")


def _ts(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _in_window(r: Row, c: Mapping[str, Any]) -> bool:
    t0, t1 = _ts(c["t_from"]), _ts(c["t_to"])
    start = _ts(r["t_start"])
    if c.get("overlap"):
        end = _ts(r["t_end"]) if r.get("t_end") is not None else start
        return start < t1 and end >= t0
    return t0 <= start < t1


def _agg(rows: Sequence[Row], agg: str) -> float:
    if agg == "count":
        return float(len(rows))
    if agg == "sum":
        return float(sum(float(r["value"] or 0.0) for r in rows))
    return float(len({str(r.get("subject") or r["evidence_id"]) for r in rows}))


def _median_daily(cited: Sequence[Row], c: Mapping[str, Any]) -> float:
    """Median over the observed days of the window of each day's value (``daily`` aggregate
    of that day's rows; a day observed only through coverage rows is a zero)."""
    t0, t1 = _ts(c["t_from"]), _ts(c["t_to"])
    kinds, basis = set(c["kinds"]), set(c.get("zero_basis") or [])
    days: dict[Any, list[Row]] = {}
    for r in cited:
        start = _ts(r["t_start"])
        if r["kind"] in basis and t0 <= start < t1:
            days.setdefault(start.date(), [])
        if r["kind"] not in kinds:
            continue
        end = _ts(r["t_end"]) if (c.get("overlap") and r.get("t_end") is not None) else start
        d = max(start, t0).date()
        while d <= min(end, t1 - timedelta(microseconds=1)).date():
            days.setdefault(d, []).append(r)
            d += timedelta(days=1)
    vals = sorted(_agg(v, str(c.get("daily") or "count")) for v in days.values())
    if not vals:
        return float("nan")
    m = len(vals) // 2
    return vals[m] if len(vals) % 2 else (vals[m - 1] + vals[m]) / 2.0


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def check_sentence(text: str, evidence: Sequence[str], claims: Sequence[Mapping[str, Any]],
                   rows_by_id: Mapping[str, Row], names: Iterable[str] = ()) -> list[str]:
    """Problems of one sentence (``text`` citing ``evidence`` and stating ``claims``);
    ``names`` (a site's label such as "Tartus (Syria, WPI:45003)") are set aside as words."""
    problems: list[str] = []
    short = text[:90]
    cited = []
    for i in evidence:
        if i not in rows_by_id:
            problems.append(f"{short!r}: cites {i}, which is not an evidence row")
        else:
            cited.append(rows_by_id[i])
    if cited and not claims:
        problems.append(f"{short!r}: cites {len(cited)} rows but states no claim they back")
    for c in claims:
        kinds = set(c["kinds"])
        rows = [r for r in cited if r["kind"] in kinds and _in_window(r, c)]
        if not c.get("stated", True):
            continue
        got = _median_daily(cited, c) if c["agg"] == "median_daily" else _agg(rows, str(c["agg"]))
        if abs(got - float(c["value"])) > 1e-6:
            problems.append(f"{short!r}: states {_fmt(float(c['value']))} {c['what']} ({c['agg']} of "
                            f"{', '.join(sorted(kinds))} from {c['t_from']} to {c['t_to']}) but the cited rows give "
                            f"{_fmt(got)}")
        if float(c["value"]) == 0.0 and c.get("zero_basis"):
            basis = [r for r in cited if r["kind"] in set(c["zero_basis"]) and _in_window(r, c)]
            if not basis:
                problems.append(f"{short!r}: a zero {c['what']} without the coverage rows that make it a zero")
        if _fmt(float(c["value"])) not in text:
            problems.append(f"{short!r}: claim {_fmt(float(c['value']))} ({c['what']}) is not in the text")
    for r in cited:
        ok = any((r["kind"] in set(c["kinds"]) or r["kind"] in set(c.get("zero_basis") or []))
                 and _in_window(r, c) for c in claims)
        if claims and not ok:
            problems.append(f"{short!r}: footnote {r['evidence_id']} ({r['kind']} at {r['t_start']}) lies outside "
                            "every stated window or kind")
    rest = text
    for n in names:
        rest = rest.replace(n, " ")
    for r in cited:
        rest = rest.replace(str(r["text"]), " ")
    for pat in _DERIVED:
        rest = re.sub(pat, " ", rest)
    values = {_fmt(float(c["value"])) for c in claims if c.get("stated", True)}
    for m in _NUMBER.finditer(rest):
        n = m.group(0).replace(",", "")
        if n not in values and cited:
            problems.append(f"{short!r}: the number {m.group(0)} is not backed by a claim on the cited rows")
    return problems


def check(assessments: Iterable[Any], rows_by_id: Mapping[str, Row], names: Iterable[str] = ()) -> list[str]:
    """Problems over every sentence of ``assessments`` (objects or their JSON)."""
    names = list(names)
    out: list[str] = []
    for a in assessments:
        j = a if isinstance(a, Mapping) else a.as_json()
        sentences = [j["judgement"], j["confidence_sentence"], *j["supporting"], *j["against"], *j["neutral"]]
        for s in sentences:
            out += [f"{j['site']}/{j['hypothesis']}: {p}" for p in
                    check_sentence(s["text"], s["evidence"], s.get("claims") or [], rows_by_id, names)]
    return out
