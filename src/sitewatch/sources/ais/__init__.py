"""AIS readers (``kind='ais'``): NMEA 0183 sentences, MarineCadastre and DMA CSV, tracktable ``.traj``.

Importing this package registers every reader with :mod:`sitewatch.sources.base`.
"""

from sitewatch.sources.ais import csv_readers, nmea, traj  # noqa: F401  (registers the readers)
