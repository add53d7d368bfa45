"""sitewatch: watch strategic sites (air bases, naval ports, depots) from open sources.

Importing sitewatch does nothing else: no files, no logging set-up, no warnings filters.

>>> from sitewatch import Workspace
>>> ws = Workspace.init(tmp / "ws")                     # doctest: +SKIP
>>> ws.put_site(sites.from_airport("hmeimim", "OSLK"))  # doctest: +SKIP
"""

from sitewatch.errors import SitewatchError
from sitewatch.sites import Site, Zone
from sitewatch.store.db import Store
from sitewatch.workspace import Workspace

__version__ = "0.1.0"

__all__ = ["Site", "SitewatchError", "Store", "Workspace", "Zone", "__version__"]
