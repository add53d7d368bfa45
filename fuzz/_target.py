"""Shared body of the atheris targets: ``python fuzz/fuzz_<name>.py [libFuzzer flags] [corpus…]``.

Each target feeds atheris' bytes to :func:`fuzz.harness.drive` for one parser; any
exception other than a documented :class:`~sitewatch.errors.SitewatchError` (and any failed
harness check) is a crash that libFuzzer reports and saves as a reproducer.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(name: str) -> None:
    import atheris

    with atheris.instrument_imports(include=["sitewatch", "fuzz"]):
        import sitewatch.alerts.rules
        import sitewatch.fusion.rules
        import sitewatch.sources.adsb
        import sitewatch.sources.ais.csv_readers
        import sitewatch.sources.ais.nmea
        import sitewatch.sources.imagery.readers
        import sitewatch.sources.observations.readers
        import sitewatch.sources.positions.readers  # noqa: F401
        from fuzz import harness as H

    target = H.TARGETS[name]

    def one_input(data: bytes) -> None:
        H.drive(target, data)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
