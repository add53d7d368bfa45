"""AIS readers (``kind='ais'``): NMEA 0183 sentences, MarineCadastre and DMA CSV, tracktable ``.traj``.

:func:`sitewatch.sources.base.readers` imports every public module here; each registers
its readers with :mod:`sitewatch.sources.base`.
"""
