"""Live feeds (ADS-B receivers, AIS streams) into the workspace store.

One loop for every feed (:mod:`sitewatch.live.base`), one transport
(:mod:`sitewatch.live._net`), one batch writer (:mod:`sitewatch.store.writer`);
:mod:`sitewatch.live.adsb` and :mod:`sitewatch.live.ais` only parse. :func:`feed_for`
builds a feed from the names ``serve`` takes (``adsb-beast``, ``adsb-sbs``, ``ais-tcp``,
``ais-udp``); :func:`api_feed` one over a web API client (readsb v2 APIs, OpenSky,
aisstream.io: :mod:`sitewatch.live.api`, the clients in :mod:`sitewatch.acquire`).
"""

from __future__ import annotations

from typing import Any

from sitewatch.errors import InputError

FEEDS = ("adsb-beast", "adsb-sbs", "ais-tcp", "ais-udp")


def feed_for(ws: Any, kind: str, target: str, option: str | None = None, **options: Any) -> Any:
    """A live feed of ``kind`` from ``target`` (``HOST:PORT``, or a port for ``ais-udp``) into ``ws``;
    ``option`` names the option ``target`` came from, in error messages (default ``--KIND``)."""
    from sitewatch.live._net import parse_hostport

    opt = option or f"--{kind}"
    if kind in ("adsb-beast", "adsb-sbs"):
        from sitewatch.live.adsb import AdsbStream

        h, p = parse_hostport(target, opt)
        return AdsbStream(ws.store, kind.split("-")[1], h, p, **options)
    if kind in ("ais-tcp", "ais-udp"):
        from sitewatch.live.ais import AisStream
        from sitewatch.vessels import watchlist

        if kind == "ais-tcp":
            from sitewatch.acquire import kystverket

            hp = parse_hostport(kystverket.address(target), opt)
            options.setdefault("provenance", kystverket.provenance(*hp))
            return AisStream(ws.store, tcp=hp, watch=watchlist(ws), **options)
        if not target.isdigit() or not 0 < int(target) < 65536:
            raise InputError(f"{opt} {target!r} must be a port number")
        return AisStream(ws.store, udp_port=int(target), watch=watchlist(ws), **options)
    raise InputError(f"unknown live feed {kind!r}; one of: {', '.join(FEEDS)}")


def api_feed(ws: Any, client: Any, **options: Any) -> Any:
    """A live feed of ``ws`` over an API client (:mod:`sitewatch.live.api`); AIS feeds refresh
    the vessels table with the workspace's watchlist."""
    from sitewatch.live.api import ApiFeed

    if client.kind == "ais":
        from sitewatch.vessels import watchlist

        options.setdefault("watch", watchlist(ws))
    return ApiFeed(ws.store, client, **options)


def sites_of(ws: Any, names: tuple[str, ...] | list[str]) -> list[Any]:
    """The named sites of ``ws`` (every site when none is named)."""
    return [ws.site(n) for n in names] if names else list(ws.sites.values())
