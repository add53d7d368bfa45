"""Readers sit below the store: importing every registered reader loads neither the store
nor DuckDB (the table schema they need lives in :mod:`sitewatch.schema`)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent("""
    import json, pkgutil, sys
    import sitewatch.sources as sources
    from sitewatch.sources.base import readers

    kinds = sorted(m.name for m in pkgutil.iter_modules(sources.__path__) if m.ispkg)
    modules = sorted({type(r).__module__ for k in kinds for r in readers(k).values()})
    loaded = sorted(m for m in sys.modules if m == "duckdb" or m.startswith(("duckdb.", "sitewatch.store")))
    print(json.dumps({"kinds": kinds, "modules": modules, "loaded": loaded}))
""")


def test_reader_modules_import_neither_store_nor_duckdb() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"adsb", "ais", "imagery", "observations", "positions", "events"} <= set(seen["kinds"])
    assert "sitewatch.sources.adsb.beast" in seen["modules"]
    assert "sitewatch.sources.ais.nmea" in seen["modules"]
    assert seen["loaded"] == [], f"readers {seen['modules']} pulled in {seen['loaded']}"
