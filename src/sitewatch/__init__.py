"""sitewatch: watch strategic sites (air bases, naval ports, depots) from open sources.

Importing sitewatch does nothing else: no files, no logging set-up, no warnings filters.

>>> import sitewatch
>>> ws = sitewatch.open("syria")                       # doctest: +SKIP
>>> ws.events(site="hmeimim").to_pandas()              # doctest: +SKIP
>>> remote = sitewatch.connect("http://host:8700", token)  # doctest: +SKIP

:func:`open` gives the folder opened directly, or the same methods through the
``sitewatch serve`` that owns it; :func:`connect` reaches a server elsewhere.

The public names are loaded on first use (PEP 562), so importing a submodule that needs
none of them — a format reader, the schema — does not import the database layer (DuckDB).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sitewatch.api import WorkspaceAPI, connect, open
    from sitewatch.errors import SitewatchError
    from sitewatch.facade import AnalyzeSummary, FusionSettings, assessments_table
    from sitewatch.remote import RemoteWorkspace
    from sitewatch.sites import Site, Zone
    from sitewatch.store.db import Store
    from sitewatch.workspace import Workspace

__version__ = "0.1.0"

_HOME: dict[str, str] = {
    "AnalyzeSummary": "sitewatch.facade", "FusionSettings": "sitewatch.facade",
    "assessments_table": "sitewatch.facade", "RemoteWorkspace": "sitewatch.remote",
    "Site": "sitewatch.sites", "Zone": "sitewatch.sites", "SitewatchError": "sitewatch.errors",
    "Store": "sitewatch.store.db", "Workspace": "sitewatch.workspace",
    "WorkspaceAPI": "sitewatch.api", "connect": "sitewatch.api", "open": "sitewatch.api",
}

__all__ = ["AnalyzeSummary", "FusionSettings", "RemoteWorkspace", "Site", "SitewatchError", "Store", "Workspace",
           "WorkspaceAPI", "Zone", "__version__", "assessments_table", "connect", "open"]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'sitewatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
