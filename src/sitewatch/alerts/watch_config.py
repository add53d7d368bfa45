"""Which sources ``sitewatch watch run`` fetches for which sites: ``[watch]`` in ``sitewatch.toml``.

.. code-block:: toml

    [watch]
    every = "15m"           # default pace of `watch run` (else --every / --once)
    detect = true           # run the detector on new scenes the GSD gate lets count something
    retry_budget = "30s"    # the most time one source may spend failing in a cycle (dead network)

    [watch.sources.adsb]    # an entry: a name of your choosing
    source = "adsblol"      # a registered source: adsblol | dma | marinecadastre | earth-search-s2 |
                            #   earth-search-s1 | cdse-s2 | cdse-s1 | maxar | planet | stac
    sites = ["hmeimim"]     # default: every site of the workspace
    lookback = "3d"         # how far back each run looks (ADS-B: whole days not yet fetched)
    every = "1d"            # fetch at most this often (default: every cycle)
    margin_km = 300         # source options: the `fetch` command's options, underscores for dashes

    [watch.sources.s2]
    source = "earth-search-s2"
    sites = ["hmeimim", "tartus"]
    lookback = "10d"
    max_cloud = 40

Options by kind — imagery: ``max_cloud``, ``collection``, ``asset``, ``stac`` (catalogue URL),
``limit``, ``margin_m``, ``max_megapixels``, ``coreg``; ADS-B archives: ``margin_km``,
``military_only``, ``watch_anywhere``, ``watch_types``, ``mirror``, ``workers``,
``keep_download``; AIS archives: ``margin_km``, ``mirror``, ``keep_download``. Keys and tokens never go here: sources read them from the environment.
Durations are a number and a unit: ``90s``, ``15m``, ``6h``, ``3d``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sitewatch.errors import ConfigError

OPTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "imagery": {"max_cloud": (int, float), "collection": str, "asset": str, "stac": str, "limit": int,
                "margin_m": (int, float), "max_megapixels": (int, float), "coreg": bool},
    "adsb": {"margin_km": (int, float), "military_only": bool, "watch_anywhere": bool, "watch_types": str,
             "mirror": str, "workers": int, "keep_download": bool},
    "ais": {"margin_km": (int, float), "mirror": str, "keep_download": bool},
}
DEFAULT_LOOKBACK = {"imagery": 5 * 86400.0, "adsb": 2 * 86400.0, "ais": 3 * 86400.0}
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_s(value: Any, name: str = "duration") -> float:
    """``15m`` / ``6h`` / ``3d`` / ``90s`` (or a number of seconds) → seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(value))
    if not m or float(m[1]) <= 0:
        raise ConfigError(f"{name} {value!r} is not a duration like 90s, 15m, 6h or 3d")
    return float(m[1]) * _UNITS[m[2]]


@dataclass(frozen=True)
class WatchSource:
    """One entry of ``[watch.sources]``."""

    name: str
    source: str
    kind: str
    sites: tuple[str, ...] = ()
    lookback_s: float = 86400.0
    every_s: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def as_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        if self.sites:
            out["sites"] = list(self.sites)
        out["lookback"] = fmt_duration(self.lookback_s)
        if self.every_s:
            out["every"] = fmt_duration(self.every_s)
        out.update(self.options)
        return out


DEFAULT_RETRY_BUDGET_S = 30.0  # a source that cannot be reached gives up within this, each cycle


@dataclass(frozen=True)
class WatchPlan:
    every_s: float | None = None
    detect: bool = True
    sources: tuple[WatchSource, ...] = ()
    retry_budget_s: float = DEFAULT_RETRY_BUDGET_S


def fmt_duration(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def kind_of(source: str) -> str:
    """The kind (adsb, imagery, …) of a registered source name."""
    from sitewatch.acquire import sources

    for kind in ("imagery", "adsb", "ais"):
        if source in sources(kind):
            return kind
    known = sorted(n for k in ("imagery", "adsb", "ais") for n in sources(k))
    raise ConfigError(f"unknown source {source!r}; registered sources: {', '.join(known)}")


def parse_source(name: str, d: Mapping[str, Any]) -> WatchSource:
    where = f"[watch.sources.{name}]"
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where} must be a table")
    src = d.get("source")
    if not isinstance(src, str) or not src:
        raise ConfigError(f"{where}: give source = \"NAME\" (e.g. earth-search-s2, adsblol)")
    kind = kind_of(src)
    sites = d.get("sites", [])
    if isinstance(sites, str):
        sites = [sites]
    if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
        raise ConfigError(f"{where}: sites must be a list of site names")
    lookback = duration_s(d.get("lookback", DEFAULT_LOOKBACK.get(kind, 86400.0)), f"{where} lookback")
    every = duration_s(d["every"], f"{where} every") if d.get("every") is not None else None
    allowed = OPTIONS.get(kind, {})
    options: dict[str, Any] = {}
    for k, v in d.items():
        if k in ("source", "sites", "lookback", "every"):
            continue
        if allowed and k not in allowed:
            raise ConfigError(f"{where}: unknown option {k!r} for a {kind} source; valid: {', '.join(allowed)}")
        want = allowed.get(k)
        if want is not None and (not isinstance(v, want) or (want is not bool and isinstance(v, bool))):
            raise ConfigError(f"{where}: {k} = {v!r} has the wrong type")
        options[k] = v
    return WatchSource(name, src, kind, tuple(sites), lookback, every, options)


def load(config: Mapping[str, Any]) -> WatchPlan:
    """The ``[watch]`` table of a workspace configuration (absent: nothing to watch)."""
    w = config.get("watch") or {}
    if not isinstance(w, Mapping):
        raise ConfigError("[watch] must be a table")
    every = duration_s(w["every"], "[watch] every") if w.get("every") is not None else None
    detect = w.get("detect", True)
    if not isinstance(detect, bool):
        raise ConfigError("[watch] detect must be true or false")
    budget = duration_s(w.get("retry_budget", DEFAULT_RETRY_BUDGET_S), "[watch] retry_budget")
    entries = w.get("sources") or {}
    if not isinstance(entries, Mapping):
        raise ConfigError("[watch.sources] must be a table of entries")
    return WatchPlan(every, detect, tuple(parse_source(str(n), d) for n, d in entries.items()), budget)


def put(config: dict[str, Any], entry: WatchSource, replace: bool = False) -> None:
    """Add ``entry`` to ``config`` (the caller saves the workspace)."""
    w = config.setdefault("watch", {})
    srcs = w.setdefault("sources", {})
    if entry.name in srcs and not replace:
        raise ConfigError(f"watch source {entry.name!r} exists; remove it first (sitewatch watch source remove "
                          f"{entry.name})")
    srcs[entry.name] = entry.as_toml()


def remove(config: dict[str, Any], name: str) -> None:
    srcs = (config.get("watch") or {}).get("sources") or {}
    if name not in srcs:
        raise ConfigError(f"no watch source {name!r}; the configured ones: {', '.join(srcs) or 'none'}")
    del srcs[name]
