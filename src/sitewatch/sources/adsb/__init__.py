"""ADS-B / Mode S readers, one module per format family; importing this package registers them.

Formats (``--format``): ``traffic`` (traffic library trajectories), ``hex`` (raw frames,
CSV or JSON lines), ``beast`` (Beast binary), ``sbs`` (BaseStation port 30003),
``readsb-trace`` and ``readsb-aircraft`` (readsb/tar1090 JSON), ``opensky`` (state
vectors, CSV/Parquet), ``fr24`` (Flightradar24 per-flight CSV). Every reader yields
``positions`` batches (and, where the feed carries identity, ``aircraft`` batches).
"""

from __future__ import annotations

from sitewatch.sources.adsb import beast, fr24, hexframes, opensky, readsb, sbs, traffic

__all__ = ["beast", "fr24", "hexframes", "opensky", "readsb", "sbs", "traffic"]
