"""Helpers shared by the sea analyses: settings, sites, ports, vessel labels, time formatting."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sitewatch import geo
from sitewatch.analytics.base import AnalysisContext
from sitewatch.errors import ConfigError
from sitewatch.sites import Site
from sitewatch.store import vessels


def params(ctx: AnalysisContext, section: str, defaults: Mapping[str, float]) -> dict[str, float]:
    """``defaults`` overridden by ``[settings.sea.<section>]``; every value must be a positive number."""
    out: dict[str, float] = {}
    for key, default in defaults.items():
        v = ctx.setting(f"sea.{section}.{key}", default)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ConfigError(f"setting sea.{section}.{key} = {v!r} must be a number >= 0 "
                              f"(default {default}); fix [settings.sea.{section}] in sitewatch.toml")
        out[key] = float(v)
    return out


ENGINES = ("numpy", "sql")


def engine(ctx: AnalysisContext) -> str:
    """``[settings.sea] engine``: ``numpy`` (default; one sorted pass, vectorised) or ``sql``
    (the same method as DuckDB window functions: the reference a Spark port follows)."""
    e = ctx.setting("sea.engine", "numpy")
    if e not in ENGINES:
        raise ConfigError(f"setting sea.engine = {e!r} must be one of {', '.join(ENGINES)}")
    return str(e)


def port_sites(ctx: AnalysisContext) -> list[Site]:
    """Watched sites of kind ``port``, by name."""
    return [s for _, s in sorted(ctx.sites.items()) if s.kind == "port"]


def site_at(sites: Iterable[Site], lat: float, lon: float) -> str | None:
    """Name of the first watched site (by name) whose watch area contains the point."""
    for s in sorted(sites, key=lambda s: s.name):
        if bool(s.contains(lat, lon)):
            return s.name
    return None


def nearest_port(lat: float, lon: float) -> tuple[str, float]:
    """(label, distance in metres) of the nearest World Port Index port."""
    from sitewatch.reference import ports

    labels, plat, plon = ports.arrays()
    d = geo.haversine_m(lat, lon, plat, plon)
    i = int(np.argmin(d))
    return str(labels[i]), float(d[i])


def min_port_distance_m(lat: np.ndarray, lon: np.ndarray, sites: Iterable[Site] = ()) -> np.ndarray:
    """Distance in metres from each point to the nearest WPI port or watched port site."""
    from sitewatch.reference import ports

    _, plat, plon = ports.arrays()
    extra = [(s.lat, s.lon) for s in sites if s.kind == "port"]
    if extra:
        plat = np.concatenate([plat, [e[0] for e in extra]])
        plon = np.concatenate([plon, [e[1] for e in extra]])
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    out = np.empty(lat.size)
    for i in range(lat.size):  # few candidates per run: events, not positions
        out[i] = float(np.min(geo.haversine_m(lat[i], lon[i], plat, plon)))
    return out


def vessel_labels(ctx: AnalysisContext, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{mmsi: {name, government, ...}} for the vessels the store knows (empty when none)."""
    return vessels.vessel_info(ctx.store, sorted(set(ids)))


def who(mmsi: str, info: Mapping[str, Mapping[str, Any]]) -> str:
    """``NAME (MMSI 123456789)`` or ``MMSI 123456789``, plus ``government`` / ``watchlist`` marks."""
    v = info.get(mmsi) or {}
    marks = [m for m, on in (("government", v.get("government")), ("watchlist", v.get("watch"))) if on]
    if v.get("name"):
        return f"{v['name']} (MMSI {', '.join([mmsi, *marks])})"
    return f"MMSI {mmsi}" + (f" ({', '.join(marks)})" if marks else "")


def hhmm(t: datetime | None) -> str:
    return "?" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600.0, 2)
