"""sitewatch: watch strategic sites (air bases, naval ports, depots) from open sources.

Importing sitewatch does nothing else: no files, no logging set-up, no warnings filters.

>>> import sitewatch
>>> ws = sitewatch.open("syria")                       # doctest: +SKIP
>>> ws.events(site="hmeimim").to_pandas()              # doctest: +SKIP
>>> remote = sitewatch.connect("http://host:8700", token)  # doctest: +SKIP

:func:`open` gives the folder opened directly, or the same methods through the
``sitewatch serve`` that owns it; :func:`connect` reaches a server elsewhere.
"""

from sitewatch.api import WorkspaceAPI, connect, open
from sitewatch.errors import SitewatchError
from sitewatch.facade import AnalyzeSummary, FusionSettings, assessments_table
from sitewatch.remote import RemoteWorkspace
from sitewatch.sites import Site, Zone
from sitewatch.store.db import Store
from sitewatch.workspace import Workspace

__version__ = "0.1.0"

__all__ = ["AnalyzeSummary", "FusionSettings", "RemoteWorkspace", "Site", "SitewatchError", "Store", "Workspace",
           "WorkspaceAPI", "Zone", "__version__", "assessments_table", "connect", "open"]
