"""Ingest options per kind of data, for :meth:`sitewatch.facade.Facade.ingest` (and so for
``sitewatch ingest …``, the server and notebooks alike).

:func:`prepare` turns keyword options (``start``, ``airport``, ``watch_types`` …, see
:data:`INGEST_OPTIONS`) into :class:`~sitewatch.sources.base.ReadOptions` and what follows
the ingest: the AIS vessel refresh, the co-registration of a site's new scenes, the warning
about observations naming sites the workspace does not have. An unknown option is an error
naming the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sitewatch.errors import InputError
from sitewatch.params import parse_ref
from sitewatch.params import parse_time as _time

if TYPE_CHECKING:
    from sitewatch.store.db import Store
    from sitewatch.store.ingest import IngestSummary

Warn = Callable[[str], None]


@dataclass
class Prepared:
    """Read options for one ingest, and what to do once the files are in."""

    options: Any  # sitewatch.sources.base.ReadOptions
    after: Callable[[Any, IngestSummary, Warn], None] | None = None


def _prepare_adsb(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    extra: dict[str, Any] = {}
    icao24 = o.pop("icao24", None)
    if icao24 is not None:
        if not (len(icao24) == 6 and all(c in "0123456789abcdefABCDEF" for c in icao24)):
            raise InputError(f"icao24 {icao24!r} is not a 24-bit hex address (e.g. 3b7777)")
        extra["icao24"] = icao24.lower()
    watch = o.pop("watch_types", None)
    if watch:
        codes, ids = resolve_watch_types(ws.store, watch)
        extra["watch_types"] = ",".join(codes)
        extra["only_ids"] = frozenset(ids)  # not JSON: used, not recorded
    reference = parse_ref(o.pop("ref", None), o.pop("airport", None))
    return Prepared(ReadOptions(start=_time(o.pop("start", None), "--start"), reference=reference, extra=extra))


def resolve_watch_types(store: Store, watch_types: str | Sequence[str]) -> tuple[list[str], set[str]]:
    """``"A124,IL76"`` or ``"default"`` → (type codes, addresses of aircraft of those types)."""
    from sitewatch.reference.types import DEFAULT_WATCH, parse_codes
    from sitewatch.store.aircraft import ids_of_types

    text = watch_types if isinstance(watch_types, str) else ",".join(watch_types)
    codes = list(DEFAULT_WATCH) if text.strip().lower() == "default" else list(parse_codes(text))
    ids = set(ids_of_types(store, codes))
    if not ids:
        raise InputError(f"no aircraft of types {','.join(codes)} in the workspace; load a database first: "
                         "sitewatch aircraft load-db PATH")
    return codes, ids


def _prepare_ais(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    extra = {"keep_bad_checksum": True} if o.pop("keep_bad_checksum", False) else {}

    def after(w: Any, summary: IngestSummary, warn: Warn) -> None:
        from sitewatch.vessels import refresh_workspace

        refresh_workspace(w)

    return Prepared(ReadOptions(start=_time(o.pop("start", None), "--start"), extra=extra), after)


def _prepare_observations(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    def after(w: Any, summary: IngestSummary, warn: Warn) -> None:
        from sitewatch.store.observations import observed_sites

        unknown = sorted(observed_sites(w.store) - set(w.sites))
        if unknown:
            warn(f"observations name sites that are not in this workspace: {', '.join(unknown)}; "
                 "add them with `sitewatch site add` to use these observations")

    return Prepared(ReadOptions(), after)


def _prepare_imagery(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    site = o.pop("site", None)
    if not site:
        raise InputError("imagery needs the site the scenes show (site=NAME / --site NAME)")
    ws.site(site)  # fails early, naming close matches
    extra: dict[str, Any] = {"site": site}
    t = _time(o.pop("time", None), "--time")
    if t is not None:
        extra["time"] = t.isoformat()
    gsd = o.pop("gsd_m", None)
    if gsd is not None:
        if float(gsd) <= 0:
            raise InputError("--gsd-m must be positive (metres per pixel)")
        extra["gsd_m"] = float(gsd)
    for k in ("provider", "crs", "corners"):
        v = o.pop(k, None)
        if v is not None:
            extra[k] = v
    coreg = bool(o.pop("coreg", True))

    def after(w: Any, summary: IngestSummary, warn: Warn) -> None:
        if not coreg or not summary.accepted:
            return
        from sitewatch.imagery import coreg as C

        for r in C.align_site(w.store, site):
            if r.status == "failed":
                warn(f"scene {r.scene_id} could not be co-registered: {r.reason}")

    return Prepared(ReadOptions(extra=extra), after)


def _prepare_plain(ws: Any, o: dict[str, Any]) -> Prepared:
    from sitewatch.sources.base import ReadOptions

    return Prepared(ReadOptions(start=_time(o.pop("start", None), "--start")))


PREPARE: dict[str, Callable[[Any, dict[str, Any]], Prepared]] = {
    "adsb": _prepare_adsb, "ais": _prepare_ais, "observations": _prepare_observations,
    "imagery": _prepare_imagery, "positions": _prepare_plain, "events": _prepare_plain,
}
INGEST_OPTIONS = {"adsb": ("start", "ref", "airport", "icao24", "watch_types"), "ais": ("start", "keep_bad_checksum"),
                  "observations": (), "imagery": ("site", "time", "gsd_m", "provider", "crs", "corners", "coreg"),
                  "positions": ("start",), "events": ("start",)}


def prepare(ws: Any, kind: str, options: Mapping[str, Any]) -> Prepared:
    """Read options for ``kind`` from keyword options (unknown ones are an error naming the valid ones)."""
    if kind not in PREPARE:
        raise InputError(f"unknown kind of data {kind!r}; one of: {', '.join(PREPARE)}")
    o = {k: v for k, v in options.items() if v is not None}
    prepared = PREPARE[kind](ws, o)
    if o:
        valid = ", ".join(INGEST_OPTIONS[kind]) or "none"
        raise InputError(f"unknown {kind} ingest option(s) {', '.join(sorted(o))}; valid: {valid}")
    return prepared
