"""Hypothesis rules: which indicators, in which direction, support a hypothesis.

Contract: a rule is a YAML file (see the shipped ``fusion/rules/*.yaml``) read into a frozen
:class:`Rule`. :func:`load_all` returns the shipped rules overridden (or extended) by the
workspace's own ``rules/NAME.yaml``; :func:`copy_to_workspace` copies a shipped rule there for
editing. Invalid rules raise :class:`~sitewatch.errors.ConfigError` naming the file, the field
and, where YAML knows it, the line.

Fields: ``name`` (= the file name), ``title``, ``statement`` (with ``{site}``), ``prior``
(0..1: how likely the hypothesis is before looking at the evidence), ``indicators`` (list of
``indicator``, ``direction`` up|down|steady, ``weight`` > 0, ``why``, optional ``sites``: the
site kinds it applies to, e.g. ``[airbase]``), ``next_observations``
(what would most help), optional ``single_source_cap`` (highest probability one source alone
may support, default 0.79: within "likely").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sitewatch.errors import ConfigError, NotFoundError
from sitewatch.fusion.indicators import INDICATORS

DIRECTIONS = ("up", "down", "steady")
RULES_DIR = "rules"  # inside a workspace folder


@dataclass(frozen=True)
class RuleIndicator:
    indicator: str
    direction: str
    weight: float
    why: str
    sites: tuple[str, ...] = ()  # site kinds it applies to; empty = every kind

    def applies_to(self, kind: str) -> bool:
        return not self.sites or kind in self.sites


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    statement: str
    prior: float
    indicators: tuple[RuleIndicator, ...]
    next_observations: tuple[str, ...]
    single_source_cap: float
    path: str
    sha256: str
    shipped: bool


def parse(text: str, path: str, shipped: bool = False) -> Rule:
    """A validated :class:`Rule` from YAML ``text`` read from ``path``."""
    try:
        doc = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply; fix the file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the file") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a rule is a mapping with name, title, statement, prior, indicators")

    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in doc:
            raise ConfigError(f"{path}: missing field {key!r}")
        if not isinstance(doc[key], kind):
            raise ConfigError(f"{path}: field {key!r} has the wrong type ({type(doc[key]).__name__})")
        return doc[key]

    name = str(need("name", str))
    stem = Path(path).stem
    if name != stem and not path.startswith("<"):
        raise ConfigError(f"{path}: name {name!r} must match the file name {stem!r}")
    raw_prior = need("prior", (int, float))
    try:
        prior, cap = float(raw_prior), float(doc.get("single_source_cap", 0.79))
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{path}: prior and single_source_cap must be numbers") from None
    if not 0.0 < prior < 1.0:
        raise ConfigError(f"{path}: prior {prior} must be strictly between 0 and 1")
    if not 0.5 <= cap <= 0.99:
        raise ConfigError(f"{path}: single_source_cap {cap} must be in 0.5..0.99")
    items = need("indicators", list)
    if not items:
        raise ConfigError(f"{path}: 'indicators' is empty; list at least one")
    inds = []
    for i, it in enumerate(items, start=1):
        if not isinstance(it, dict):
            raise ConfigError(f"{path}: indicators item {i} must be a mapping (indicator, direction, weight, why)")
        ind = str(it.get("indicator", ""))
        if ind not in INDICATORS:
            raise ConfigError(f"{path}: indicators item {i}: unknown indicator {ind!r}; "
                              f"known: {', '.join(sorted(INDICATORS))}")
        direction = str(it.get("direction", ""))
        if direction not in DIRECTIONS:
            raise ConfigError(f"{path}: indicators item {i} ({ind}): direction {direction!r} "
                              f"must be one of {', '.join(DIRECTIONS)}")
        try:
            weight = float(it.get("weight", 1.0))
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{path}: indicators item {i} ({ind}): weight must be a number") from None
        if not 0.0 < weight <= 5.0:
            raise ConfigError(f"{path}: indicators item {i} ({ind}): weight {weight} must be in (0, 5]")
        kinds = it.get("sites") or []
        if isinstance(kinds, str):
            kinds = [kinds]
        from sitewatch.sites import KINDS

        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ConfigError(f"{path}: indicators item {i} ({ind}): sites {bad} must be among {', '.join(KINDS)}")
        inds.append(RuleIndicator(ind, direction, weight, str(it.get("why", "")), tuple(kinds)))
    nxt = doc.get("next_observations") or []
    if not isinstance(nxt, list):
        raise ConfigError(f"{path}: next_observations must be a list of sentences")
    return Rule(name, str(need("title", str)), str(need("statement", str)), prior, tuple(inds),
                tuple(str(x) for x in nxt), cap, path, hashlib.sha256(text.encode()).hexdigest(), shipped)


def shipped() -> dict[str, Rule]:
    """The rules shipped with sitewatch."""
    out = {}
    base = resources.files("sitewatch.fusion") / "rules"
    for entry in sorted(base.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            r = parse(entry.read_text(encoding="utf-8"), f"sitewatch/fusion/rules/{entry.name}", shipped=True)
            out[r.name] = r
    return out


def workspace_dir(folder: str | Path) -> Path:
    return Path(folder) / RULES_DIR


def load_all(folder: str | Path | None = None) -> dict[str, Rule]:
    """Shipped rules, replaced or extended by the workspace's ``rules/*.yaml``."""
    rules = shipped()
    if folder is not None:
        d = workspace_dir(folder)
        if d.is_dir():
            for p in sorted(d.glob("*.yaml")):
                r = parse(p.read_text(encoding="utf-8"), str(p))
                rules[r.name] = r
    return rules


def get(name: str, folder: str | Path | None = None) -> Rule:
    rules = load_all(folder)
    if name not in rules:
        import difflib

        raise NotFoundError("rule", name, difflib.get_close_matches(name, list(rules), n=3) or list(rules),
                            hint="list them with `sitewatch rules list`")
    return rules[name]


def copy_to_workspace(name: str, folder: str | Path) -> Path:
    """The workspace copy of rule ``name`` (copied from the shipped rule if not there yet)."""
    target = workspace_dir(folder) / f"{name}.yaml"
    if target.exists():
        return target
    rule = get(name, None) if name in shipped() else None
    target.parent.mkdir(parents=True, exist_ok=True)
    if rule is not None:
        text = (resources.files("sitewatch.fusion") / "rules" / f"{name}.yaml").read_text(encoding="utf-8")
    else:
        text = (f"name: {name}\ntitle: {name}\nstatement: \"{{site}} ...\"\nprior: 0.1\nindicators:\n"
                "  - indicator: heavy_arrivals\n    direction: up\n    weight: 1.0\n    why: ...\n"
                "next_observations: []\n")
    target.write_text(text, encoding="utf-8")
    return target
