"""Hypotheses: one mutually exclusive and exhaustive set, each stating how strongly it
predicts each state of each evidence item.

Contract: a hypothesis is a YAML file (see the shipped ``fusion/rules/*.yaml``) read into a
frozen :class:`Rule`. :func:`load_all` returns the shipped hypotheses overridden (or extended)
by the workspace's own ``rules/NAME.yaml``; :func:`copy_to_workspace` copies a shipped one
there for editing. Invalid files raise :class:`~sitewatch.errors.ConfigError` naming the
file, the field and, where YAML knows it, the line.

Fields: ``name`` (= the file name), ``title``, ``statement`` (with ``{site}``), ``prior``
(0..1: the weight of the hypothesis before any evidence; the priors of the hypotheses that
apply to a site are normalised to sum to 1), optional ``priors`` (per site kind, overriding
``prior``), optional ``site_kinds`` (default: every kind), ``expects`` (item → {state:
probability}: how strongly the hypothesis predicts each state of each evidence item of
:mod:`sitewatch.fusion.items`; each item's probabilities sum to 1; an item a hypothesis does
not mention is taken as uniform — it predicts nothing), ``next_observations``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sitewatch.errors import ConfigError, NotFoundError
from sitewatch.fusion.items import ITEMS

RULES_DIR = "rules"  # inside a workspace folder
REMAINDER = "other"  # the explicit remainder: "not explained by these"
SUM_TOLERANCE = 0.02


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    statement: str
    prior: float
    expects: dict[str, dict[str, float]]
    next_observations: tuple[str, ...]
    path: str
    sha256: str
    shipped: bool
    priors: dict[str, float] | None = None
    site_kinds: tuple[str, ...] = ()

    def applies_to(self, kind: str) -> bool:
        return not self.site_kinds or kind in self.site_kinds

    def prior_for(self, kind: str) -> float:
        return (self.priors or {}).get(kind, self.prior)

    def likelihood(self, item: str, state: str) -> float:
        """P(state of item | this hypothesis); uniform when the hypothesis says nothing."""
        dist = self.expects.get(item)
        if dist is None:
            return 1.0 / len(ITEMS[item].states)
        return dist[state]

    def distribution(self, item: str) -> list[float]:
        return [self.likelihood(item, st) for st in ITEMS[item].states]


# states added to existing items after hypothesis files were first written: a workspace's own
# file from before names the rest, and the error says what the new one means
NEW_STATES = {
    "burst": "burst = above the usual range within the last two weeks, over by now",
    "returned": "returned = warships sailed together and came back to port",
}


def _num(path: str, what: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"{path}: {what} must be a number")
    try:
        return float(v)
    except (OverflowError, ValueError):
        raise ConfigError(f"{path}: {what} must be a finite number") from None


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
        raise ConfigError(f"{path}: a hypothesis is a mapping with name, title, statement, prior, expects")

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
    if "indicators" in doc and "expects" not in doc:
        raise ConfigError(f"{path}: this is a rule in the old format (indicators with weights); hypotheses now "
                          "state `expects:` (per evidence item, the probability of each state). Start again from "
                          f"the shipped one: move the file away and run `sitewatch rules edit {name}`")
    prior = _num(path, "prior", need("prior", (int, float)))
    if not 0.0 < prior < 1.0:
        raise ConfigError(f"{path}: prior {prior} must be strictly between 0 and 1")
    from sitewatch.sites import KINDS

    priors: dict[str, float] | None = None
    if doc.get("priors") is not None:
        raw = doc["priors"]
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: priors must map site kinds to numbers, e.g. {{port: 0.1}}")
        priors = {}
        for k, v in raw.items():
            if k not in KINDS:
                raise ConfigError(f"{path}: priors: site kind {k!r} must be among {', '.join(KINDS)}")
            priors[str(k)] = _num(path, f"priors.{k}", v)
            if not 0.0 < priors[str(k)] < 1.0:
                raise ConfigError(f"{path}: priors.{k} must be strictly between 0 and 1")
    kinds = doc.get("site_kinds") or []
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list) or any(k not in KINDS for k in kinds):
        raise ConfigError(f"{path}: site_kinds {kinds} must be among {', '.join(KINDS)}")
    raw_exp = need("expects", dict)
    if not raw_exp:
        raise ConfigError(f"{path}: 'expects' is empty; state at least one evidence item")
    expects: dict[str, dict[str, float]] = {}
    for it, dist in raw_exp.items():
        if it not in ITEMS:
            raise ConfigError(f"{path}: expects: unknown evidence item {it!r}; known: {', '.join(sorted(ITEMS))}")
        states = ITEMS[it].states
        if not isinstance(dist, dict):
            raise ConfigError(f"{path}: expects.{it} must map its states ({', '.join(states)}) to probabilities")
        bad = sorted(set(map(str, dist)) - set(states))
        missing = [st for st in states if st not in dist]
        if bad or missing:
            new = [st for st in missing if st in NEW_STATES]
            hint = (f"; {', '.join(new)} {'is a state' if len(new) == 1 else 'are states'} added since this file was "
                    f"written ({'; '.join(NEW_STATES[st] for st in new)}): add "
                    f"{'it' if len(new) == 1 else 'them'} with a probability, or compare with the shipped file "
                    f"(`sitewatch rules show {name} --shipped`)" if new and not bad else "")
            raise ConfigError(f"{path}: expects.{it}: states must be exactly {', '.join(states)}"
                              + (f" (unknown: {', '.join(bad)})" if bad else "")
                              + (f" (missing: {', '.join(missing)})" if missing else "") + hint)
        vals = {st: _num(path, f"expects.{it}.{st}", dist[st]) for st in states}
        if any(not 0.0 < v <= 1.0 for v in vals.values()):
            raise ConfigError(f"{path}: expects.{it}: each probability must be in (0, 1] (never exactly 0: "
                              "nothing is impossible to observe)")
        total = sum(vals.values())
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise ConfigError(f"{path}: expects.{it}: probabilities sum to {total:.3f}; they must sum to 1")
        expects[it] = {st: v / total for st, v in vals.items()}
    nxt = doc.get("next_observations") or []
    if not isinstance(nxt, list):
        raise ConfigError(f"{path}: next_observations must be a list of sentences")
    return Rule(name, str(need("title", str)), str(need("statement", str)), prior, expects,
                tuple(str(x) for x in nxt), path, hashlib.sha256(text.encode()).hexdigest(), shipped,
                priors, tuple(str(k) for k in kinds))


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
        text = (f"name: {name}\ntitle: {name}\nstatement: \"{{site}} ...\"\nprior: 0.05\nexpects:\n"
                "  airlift: {up: 0.4, usual: 0.5, down: 0.1}\n"
                "next_observations: []\n")
    target.write_text(text, encoding="utf-8")
    return target
