"""Watch rules: what to be told about, kept in ``watch.yaml`` in the workspace folder.

A rule is one of:

* ``type-near`` — aircraft of given ICAO types (and/or military) within ``radius_km`` of a
  site: fires once per aircraft, site and UTC day.
  ``{name, kind: type-near, types: [A124, IL76], site: hmeimim, radius_km: 50, military: false}``
* ``event`` — any event of a kind (optionally at a site, above a confidence): fires once per
  event. ``{name, kind: event, event_kind: dark-visit, site: null, min_confidence: 0.5}``
* ``evidence`` — a daily evidence/indicator value crossing a threshold at a site: fires once
  per site, kind and day. ``{name, kind: evidence, evidence_kind: ships-at-quay, site: tartus,
  op: "<", value: 2}``
* ``assessment`` — a hypothesis' score for a site crossing a threshold: fires once per
  assessment revision. ``{name, kind: assessment, hypothesis: withdrawal, site: hmeimim,
  op: ">=", value: 0.8}``

Channels live beside the rules: ``channels: [{type: log, path: alerts.log},
{type: webhook, url: http://127.0.0.1:9000/hook}, {type: email, to: a@b, smtp: host:port,
from: sitewatch@localhost}]``. The file is validated on load; errors name the rule.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sitewatch.errors import ConfigError

RULE_KINDS = ("type-near", "event", "evidence", "assessment")
CHANNEL_TYPES = ("log", "webhook", "email")
OPS = ("<", "<=", ">", ">=", "==")
FILE_NAME = "watch.yaml"


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    site: str | None = None
    types: tuple[str, ...] = ()
    military: bool = False
    radius_km: float = 50.0
    event_kind: str | None = None
    min_confidence: float = 0.0
    evidence_kind: str | None = None
    hypothesis: str | None = None
    op: str = ">="
    value: float = 0.0

    def describe(self) -> str:
        where = f" at {self.site}" if self.site else " at any site"
        if self.kind == "type-near":
            what = ",".join(self.types) or "any type"
            mil = " military" if self.military else ""
            return f"{what}{mil} aircraft within {self.radius_km:g} km of {self.site}"
        if self.kind == "event":
            return f"{self.event_kind} events{where} (confidence ≥ {self.min_confidence:g})"
        if self.kind == "evidence":
            return f"{self.evidence_kind}{where} {self.op} {self.value:g}"
        return f"{self.hypothesis} score{where} {self.op} {self.value:g}"


@dataclass
class WatchConfig:
    rules: list[Rule] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        from sitewatch.errors import NotFoundError

        raise NotFoundError("watch rule", name, [r.name for r in self.rules])


def compare(a: float, op: str, b: float) -> bool:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b}[op]


def parse_rule(d: Any, where: str = "watch.yaml") -> Rule:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: a rule must be a mapping, got {type(d).__name__}")
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: every rule needs a non-empty 'name'")
    kind = d.get("kind")
    if kind not in RULE_KINDS:
        raise ConfigError(f"{where}: rule {name!r}: kind {kind!r} is not one of {', '.join(RULE_KINDS)}")
    known = set(Rule.__dataclass_fields__)
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"{where}: rule {name!r}: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(known)}")
    kw = dict(d)
    try:
        if "types" in kw:
            t = kw["types"]
            kw["types"] = tuple(str(x).upper() for x in ([t] if isinstance(t, str) else t))
        for k in ("radius_km", "min_confidence", "value"):
            if k in kw:
                kw[k] = float(kw[k])
        if "military" in kw and not isinstance(kw["military"], bool):
            raise ValueError("military must be true or false")
        rule = Rule(**kw)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{where}: rule {name!r}: {exc}") from None
    if rule.op not in OPS:
        raise ConfigError(f"{where}: rule {name!r}: op {rule.op!r} is not one of {' '.join(OPS)}")
    need = {"type-near": ("site",), "event": ("event_kind",), "evidence": ("evidence_kind", "site"),
            "assessment": ("hypothesis", "site")}[rule.kind]
    for k in need:
        if not getattr(rule, k):
            raise ConfigError(f"{where}: rule {name!r} ({rule.kind}) needs '{k}'")
    if rule.kind == "type-near" and not (rule.types or rule.military):
        raise ConfigError(f"{where}: rule {name!r}: give 'types' and/or 'military: true'")
    if not 0 < rule.radius_km <= 2000:
        raise ConfigError(f"{where}: rule {name!r}: radius_km must be in (0, 2000]")
    return rule


def parse_channel(d: Any, where: str = "watch.yaml") -> dict[str, Any]:
    if not isinstance(d, dict) or d.get("type") not in CHANNEL_TYPES:
        raise ConfigError(f"{where}: each channel needs type: one of {', '.join(CHANNEL_TYPES)}")
    req = {"log": ("path",), "webhook": ("url",), "email": ("to", "smtp")}[d["type"]]
    for k in req:
        if not d.get(k):
            raise ConfigError(f"{where}: {d['type']} channel needs '{k}'")
    if d["type"] == "webhook" and not str(d["url"]).startswith(("http://", "https://")):
        raise ConfigError(f"{where}: webhook url must start with http:// or https://")
    return dict(d)


def load(folder: str | Path) -> WatchConfig:
    p = Path(folder) / FILE_NAME
    if not p.exists():
        return WatchConfig()
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"{p}: not a readable YAML text ({type(exc).__name__}); fix the file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}{line}: invalid YAML ({getattr(exc, 'problem', exc)}); fix the file") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{p}: expected a mapping with 'rules' and 'channels'")
    rules = [parse_rule(r, str(p)) for r in doc.get("rules") or []]
    names = [r.name for r in rules]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"{p}: duplicate rule names {sorted(dup)}")
    return WatchConfig(rules, [parse_channel(c, str(p)) for c in doc.get("channels") or []])


def save(folder: str | Path, cfg: WatchConfig) -> None:
    p = Path(folder) / FILE_NAME
    doc = {
        "rules": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(r).items()
                   if v not in (None, (), False) or k == "name"} for r in cfg.rules],
        "channels": cfg.channels,
    }
    tmp = p.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    os.replace(tmp, p)
