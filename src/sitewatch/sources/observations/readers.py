"""Analyst observations as CSV or YAML: what a person read in an image, a video or a post.

CSV, with a header naming any of the columns below, or without a header as
``date, site, text, source, url[, confidence]``::

    2024-12-13, hmeimim, 2 × A124 on apron, Maxar, https://example.org/post

YAML: a list of mappings (or ``{observations: [...]}``) with the same keys.

Columns / keys: ``t_utc`` (or ``date``/``time``; ISO 8601, naive = UTC; a bare date means
00:00 UTC that day), ``site``, ``text`` (required), ``count``, ``class`` (object class or
ICAO type, e.g. ``A124``, ``large-vehicle``), ``zone``, ``source`` (provider or outlet),
``url``, ``confidence`` (0..1), ``simulated`` (true/false). When ``count``/``class`` are
absent they are read from a text starting ``N × CLASS`` (``x`` or ``*`` also accepted),
and ``zone`` from ``on (the) ZONE``.

Bad records (no time, no site, no text, unparseable count or confidence out of 0..1) are
quarantined with their line number; the rest of the file is kept. Ids are a hash of
time, site, text, source and url, so the same observation in two files is stored once.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import yaml

from sitewatch import schema
from sitewatch.errors import FormatError
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register, text_lines

POSITIONAL = ("t_utc", "site", "text", "source", "url", "confidence")
ALIASES = {"date": "t_utc", "time": "t_utc", "t": "t_utc", "when": "t_utc", "what": "text",
           "observation": "text", "type": "class", "provider": "source", "outlet": "source", "link": "url",
           "n": "count"}
KEYS = ("t_utc", "site", "text", "count", "class", "zone", "source", "url", "confidence", "simulated")
_COUNT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:×|x|X|\*)\s*([A-Za-z0-9][A-Za-z0-9_-]*)")
_ZONE_RE = re.compile(r"\bon (?:the )?([a-z0-9][a-z0-9_-]*)\b", re.IGNORECASE)
_DATE_RE = re.compile(rb"^\s*\d{4}-\d{2}-\d{2}")
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}


def parse_record(raw: dict[str, Any]) -> dict[str, Any]:
    """A validated ``observations`` row from a record's fields (raises ``ValueError``)."""
    rec = {ALIASES.get(str(k).strip().lower(), str(k).strip().lower()): v for k, v in raw.items()}
    unknown = sorted(set(rec) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown fields {unknown}; allowed: {', '.join(KEYS)}")
    t = _time(rec.get("t_utc"))
    site = _text(rec.get("site"))
    if not site:
        raise ValueError("no site; give the site name (as in `sitewatch site list`)")
    site = site.lower()
    text = _text(rec.get("text"))
    if not text:
        raise ValueError("no text; say what was seen")
    count = _number(rec.get("count"), "count")
    cls = _text(rec.get("class"))
    m = _COUNT_RE.match(text)
    if m and count is None:
        count = float(m.group(1))
    if m and not cls:
        cls = m.group(2)
    zone = _text(rec.get("zone"))
    if not zone:
        zm = _ZONE_RE.search(text)
        zone = zm.group(1).lower() if zm else None
    conf = _number(rec.get("confidence"), "confidence")
    if conf is not None and not 0.0 <= conf <= 1.0:
        raise ValueError(f"confidence {conf} is not in 0..1")
    sim = rec.get("simulated")
    if sim is not None and not isinstance(sim, bool):
        s = str(sim).strip().lower()
        if s not in _TRUE | _FALSE:
            raise ValueError(f"simulated {sim!r} is not true/false")
        sim = s in _TRUE
    source, url = _text(rec.get("source")), _text(rec.get("url"))
    key = f"{t.isoformat()}|{site}|{text}|{source}|{url}"
    return {"obs_id": "obs-" + hashlib.sha1(key.encode()).hexdigest()[:16], "site": site, "t_utc": t,
            "text": text, "count": count, "class": cls, "zone": zone, "source": source, "url": url,
            "confidence": conf, "simulated": bool(sim) if sim is not None else False}


def _text(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _number(v: Any, name: str) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} {str(v)[:40]!r} is not a number") from None


def _time(v: Any) -> datetime:
    if v is None or (isinstance(v, str) and not v.strip()):
        raise ValueError("no time; give an ISO 8601 date or time (e.g. 2024-12-13 or 2024-12-13T06:00Z)")
    if isinstance(v, datetime):
        t = v
    elif isinstance(v, date):
        t = datetime(v.year, v.month, v.day)
    else:
        try:
            t = datetime.fromisoformat(str(v).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"time {v!r} is not ISO 8601 (e.g. 2024-12-13 or 2024-12-13T06:00Z)") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _batch(rows: list[dict[str, Any]], offsets: list[int], rejects: list[Reject]) -> Batch:
    decl = schema.OBSERVATIONS
    cols = {c: pa.array([r[c] for r in rows], decl.column(c).arrow_type) for c in KEYS if c != "t_utc"}
    cols["t_utc"] = pa.array([r["t_utc"] for r in rows], pa.timestamp("us", tz="UTC"))
    cols["obs_id"] = pa.array([r["obs_id"] for r in rows], pa.string())
    cols["rec_offset"] = pa.array(offsets, pa.int64())
    return Batch("observations", pa.table(cols), rejects)


@register
class ObservationsCsv:
    kind = "observations"
    name = "csv"

    def sniff(self, head: bytes, name: str) -> float:
        first = head.split(b"\n", 1)[0].lower()
        if b"text" in first and b"site" in first:
            return 0.9
        if _DATE_RE.match(first) and first.count(b",") >= 2:
            return 0.8
        return 0.3 if name.lower().endswith(".csv") else 0.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        rows: list[dict[str, Any]] = []
        offsets: list[int] = []
        rejects: list[Reject] = []
        header: list[str] | None = None
        for lineno, line in text_lines(src, encoding="utf-8-sig"):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                fields = [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]
            except csv.Error as exc:
                rejects.append(Reject(lineno, line, f"bad CSV ({exc})"))
                continue
            if header is None and not rows and not rejects:
                low = [ALIASES.get(f.lower(), f.lower()) for f in fields]
                if "text" in low:
                    unknown = [f for f in low if f not in KEYS]
                    if unknown:
                        raise FormatError(f"unknown columns {unknown}; allowed: {', '.join(KEYS)}",
                                          path=src.name, offset=lineno)
                    header = low
                    continue
                header = list(POSITIONAL)
            assert header is not None
            try:
                if len(fields) > len(header):
                    raise ValueError(f"{len(fields)} fields, expected at most {len(header)} "
                                     f"({', '.join(header)}); quote texts that contain commas")
                rows.append(parse_record(dict(zip(header, fields, strict=False))))
                offsets.append(lineno)
            except ValueError as exc:
                rejects.append(Reject(lineno, line, str(exc)))
        if rows or rejects:
            yield _batch(rows, offsets, rejects)


@register
class ObservationsYaml:
    kind = "observations"
    name = "yaml"

    def sniff(self, head: bytes, name: str) -> float:
        if name.lower().endswith((".yaml", ".yml")):
            return 0.95
        text = head.lstrip()
        return 0.6 if text.startswith((b"- ", b"observations:", b"---")) else 0.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        with src.open() as f:
            text = f.read().decode("utf-8-sig", "replace")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except RecursionError:
            raise FormatError("YAML nested too deeply to be observations", path=src.name) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise FormatError(f"not valid YAML ({getattr(exc, 'problem', exc)})", path=src.name,
                              offset=mark.line + 1 if mark else None) from None
        if isinstance(node, yaml.MappingNode):
            inner = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "observations"]
            if not inner:
                raise FormatError("a YAML mapping needs an 'observations:' list", path=src.name)
            node = inner[0]
        if not isinstance(node, yaml.SequenceNode):
            raise FormatError("expected a list of observations (or 'observations:' with a list)", path=src.name)
        loader = yaml.SafeLoader("")
        rows: list[dict[str, Any]] = []
        offsets: list[int] = []
        rejects: list[Reject] = []
        lines = text.splitlines()
        for item in node.value:
            lineno = item.start_mark.line + 1
            raw = "\n".join(lines[item.start_mark.line:item.end_mark.line + 1])[:2000]
            try:
                if not isinstance(item, yaml.MappingNode):
                    raise ValueError("an observation must be a mapping (t_utc:, site:, text: …)")
                rec = loader.construct_mapping(item, deep=True)
                rows.append(parse_record({str(k): v for k, v in rec.items()}))
                offsets.append(lineno)
            except (ValueError, yaml.YAMLError, RecursionError) as exc:
                rejects.append(Reject(lineno, raw, str(exc) or type(exc).__name__))
        if rows or rejects:
            yield _batch(rows, offsets, rejects)
