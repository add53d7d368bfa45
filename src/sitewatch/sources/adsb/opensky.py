"""``opensky`` format: OpenSky Network state vectors, CSV or Parquet.

Columns are those of the Impala/Trino ``state_vectors_data4`` history table (and of
OpenSky's CSV dumps): ``time`` (Unix s), ``icao24``, ``lat``, ``lon``, ``velocity`` (m/s),
``heading`` (deg, the track), ``vertrate`` (m/s), ``callsign``, ``onground``, ``squawk``,
``baroaltitude`` (m), ``geoaltitude``, ``lastposupdate``, ``lastcontact``, ``hour``.
Units are converted to kt, ft and ft/min. Rows without a position are counted
(``no_position``); bad values and short lines are quarantined with their line/row.
"""

from __future__ import annotations

from collections.abc import Iterator

from sitewatch.sources.adsb import _tabular as T
from sitewatch.sources.adsb._common import watch_filtered
from sitewatch.sources.base import Batch, InputFile, ReadOptions, register

FORMAT = "opensky"


@register
class OpenSkyReader:
    kind = "adsb"
    name = FORMAT

    def sniff(self, head: bytes, name: str) -> float:
        if head[:4] == b"PAR1":
            return 0.5
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r")
        cols = [c.strip().strip('"').lower() for c in first.split(",")]
        return 0.9 if T.OPENSKY.fits(cols) else 0.0

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        if src.head(4) == b"PAR1":
            yield from T.read_parquet(src, (T.OPENSKY, T.TRAFFIC), FORMAT)
        else:
            yield from T.read_csv(src, (T.OPENSKY,), FORMAT)
