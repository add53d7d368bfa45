"""ADS-B / Mode S readers, one module per format family; importing this package registers them.

Formats (``--format``): ``traffic`` (traffic library trajectories), ``hex`` (raw frames,
CSV or JSON lines), ``beast`` (Beast binary), ``sbs`` (BaseStation port 30003),
``readsb-trace`` and ``readsb-aircraft`` (readsb/tar1090 JSON), ``opensky`` (state
vectors, CSV/Parquet), ``fr24`` (Flightradar24 per-flight CSV). Every reader yields
``positions`` batches (and, where the feed carries identity, ``aircraft`` batches).
"""

from __future__ import annotations

import importlib

_MODULES = ("traffic", "hexframes", "beast", "sbs", "readsb", "opensky", "fr24")

for _m in _MODULES:
    try:
        importlib.import_module(f"{__name__}.{_m}")
    except ModuleNotFoundError as exc:  # a family not written yet must not hide the others
        if exc.name != f"{__name__}.{_m}":
            raise
