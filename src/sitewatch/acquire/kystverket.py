"""The Norwegian Coastal Administration's open AIS feed (Kystverket, "AIS Norge"), read with ``stream ais --tcp``.

How it is called (``https://kystverket.no/en/navigation-and-monitoring/ais/ais-norge``): a raw
TCP stream at ``153.44.253.27:5631`` (older address ``153.44.253.1:5631``), no registration,
no key; plain lines, IEC 62320-1 tag blocks (``\\c:<unix time>*hh\\``, recent captures also
``s:<station>``) before ``!BSVDM``/``!ABVDM``/``!AIVDM`` sentences — the NMEA reader of
``ingest ais`` and ``stream ais --tcp`` reads them as they are. About 2 KB/s. Coverage: the
Norwegian economic zone and Svalbard / Jan Mayen, without fishing vessels under 15 m and
leisure craft under 45 m. One connection; reconnect on a drop (the TCP reader's backoff).

``sitewatch stream ais --tcp kystverket`` connects there; a session on one of these addresses
records Kystverket's licence (NLOD 2.0) and attribution as its provenance.
"""

from __future__ import annotations

from sitewatch.acquire import SourceInfo, register

ADDRESS = "153.44.253.27:5631"
HOSTS = frozenset({("153.44.253.27", 5631), ("153.44.253.1", 5631)})

INFO = SourceInfo(
    kind="ais-live", name="kystverket", title="Kystverket open AIS feed (AIS Norge, raw NMEA over TCP)",
    licence="NLOD-2.0", licence_url="https://data.norge.no/nlod/en/2.0",
    attribution="Contains data under the Norwegian licence for Open Government data (NLOD) distributed by the "
                "Norwegian Coastal Administration (Kystverket)",
    homepage="https://kystverket.no/en/navigation-and-monitoring/ais/ais-norge")


@register
class Kystverket:
    """The ``kystverket`` live source (its terms; the feed is read by :mod:`sitewatch.live.ais`)."""

    info = INFO


def address(target: str) -> str:
    """``kystverket`` → its address; anything else unchanged."""
    return ADDRESS if target.strip().lower() == "kystverket" else target


def provenance(host: str, port: int) -> dict[str, object] | None:
    """Kystverket's terms when ``host:port`` is its feed, else ``None``."""
    if (host, port) not in HOSTS:
        return None
    return {**INFO.as_json(), "endpoint": f"tcp://{host}:{port}", "live": True}
