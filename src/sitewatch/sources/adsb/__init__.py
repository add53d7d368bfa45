"""ADS-B / Mode S readers, one module per format family.

Formats (``--format``): ``traffic`` (traffic library trajectories), ``hex`` (raw frames,
CSV or JSON lines), ``beast`` (Beast binary), ``sbs`` (BaseStation port 30003),
``readsb-trace`` and ``readsb-aircraft`` (readsb/tar1090 JSON), ``opensky`` (state
vectors, CSV/Parquet), ``fr24`` (Flightradar24 per-flight CSV), ``readsb-api`` and
``opensky-api`` (saved answers of the live APIs). Every reader yields
``positions`` batches (and, where the feed carries identity, ``aircraft`` batches).

:func:`sitewatch.sources.base.readers` imports every public module here, and each module
registers its readers (``@register``): a new format is one new module, nothing to list.
"""
