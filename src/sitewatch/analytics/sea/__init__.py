"""Sea events from AIS positions: port visits, departures, loitering, AIS gaps, encounters.

Each module registers one analysis (``sea.port-visits``, ``sea.departures``,
``sea.loitering``, ``sea.gaps``, ``sea.encounters``) whose heavy lifting is SQL window
functions in :mod:`sitewatch.store.positions_sea`; Python only shapes the (few) results
into ``events`` rows. Thresholds are settings under ``[settings.sea]`` in
``sitewatch.toml`` (see each module's ``DEFAULTS``).
"""
