"""The library's front door: :func:`open` a workspace folder, or :func:`connect` to a server.

>>> import sitewatch
>>> ws = sitewatch.open("syria")                             # doctest: +SKIP
>>> ws.ingest("adsb", ["flights.jsonl.gz"], airport="OSLK")  # doctest: +SKIP
>>> ws.analyze()                                             # doctest: +SKIP
>>> ws.events(site="hmeimim", kind="air.arrival").to_pandas()  # doctest: +SKIP

:func:`open` returns the folder opened directly (:class:`~sitewatch.workspace.Workspace`)
when nothing else holds it, and :class:`~sitewatch.remote.RemoteWorkspace` — the same
methods, through the server — while ``sitewatch serve`` runs on it, so a notebook and the
dashboard work on one workspace at once. Both satisfy :class:`WorkspaceAPI`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pyarrow as pa

from sitewatch import owner
from sitewatch.errors import InputError
from sitewatch.facade import AnalyzeSummary, FusionSettings
from sitewatch.remote import RemoteWorkspace
from sitewatch.workspace import Workspace, resolve_dir

if TYPE_CHECKING:
    from sitewatch.fusion.assessment import Assessment
    from sitewatch.report.build import ReportResult
    from sitewatch.sites import Site
    from sitewatch.store.ingest import IngestSummary


@runtime_checkable
class WorkspaceAPI(Protocol):
    """What every workspace handle offers, opened directly or through a server."""

    @property
    def sites(self) -> dict[str, Site]: ...

    @property
    def settings(self) -> dict[str, Any]: ...

    @property
    def fusion(self) -> FusionSettings: ...

    def site(self, name: str) -> Site: ...

    def put_site(self, site: Site, replace: bool = False) -> None: ...

    def remove_site(self, name: str) -> Site: ...

    def ingest(self, kind: str, paths: str | Path | Iterable[str | Path], format: str = "auto", *,
               progress: Callable[[int], None] | None = None, on_file: Any = None,
               on_warning: Callable[[str], None] | None = None, **options: Any) -> IngestSummary: ...

    def analyze(self, only: Sequence[str] | None = None, t_from: datetime | str | None = None,
                t_to: datetime | str | None = None,
                progress: Callable[[str], None] | None = None) -> AnalyzeSummary: ...

    def events(self, site: str | None = None, kind: str | Sequence[str] | None = None, subject: str | None = None,
               t_from: datetime | str | None = None, t_to: datetime | str | None = None, limit: int | None = None,
               evidence: bool = False) -> pa.Table: ...

    def positions(self, site: str | None = None, source: str | None = None, subject: str | None = None,
                  t_from: datetime | str | None = None, t_to: datetime | str | None = None,
                  limit: int | None = None) -> pa.Table: ...

    def timeline(self, site: str, t_from: datetime | str | None = None, t_to: datetime | str | None = None,
                 kind: str | Sequence[str] | None = None, coverage: bool = False) -> pa.Table: ...

    def indicators(self, site: str, at: datetime | str | None = None, t_from: datetime | str | None = None,
                   days: bool = False) -> pa.Table: ...

    def assess(self, site: str, at: datetime | str | None = None, save: bool = False) -> list[Assessment]: ...

    def report(self, site: str, out: str | Path, t_from: datetime | str | None = None,
               t_to: datetime | str | None = None, pdf: bool = False) -> ReportResult: ...

    def close(self) -> None: ...


def open(path: str | Path | None = None, *, direct: bool = False) -> Workspace | RemoteWorkspace:
    """The workspace in ``path`` (default ``$SITEWATCH_WORKSPACE``, else the current folder).

    Through its server when ``sitewatch serve`` runs on it (found by the discovery file it
    writes; a stale one is cleaned up), else the folder itself. ``direct=True`` always opens
    the folder (and fails while a server holds it).
    """
    folder = resolve_dir(path)
    if not direct:
        info = owner.find(folder)
        if info is not None:
            rw = RemoteWorkspace(info.url, info.token, folder, owner=True)
            if _answers(rw):
                return rw
    return Workspace.open(folder)


def connect(url: str, token: str | None = None) -> RemoteWorkspace:
    """A workspace served at ``url`` (``http://host:8700``), with an API token from
    ``sitewatch token create`` (``--scope read`` for reads, ``admin`` to ingest, analyze,
    assess and write reports). ``token`` defaults to ``$SITEWATCH_TOKEN``."""
    tok = token if token is not None else os.environ.get("SITEWATCH_TOKEN")
    if tok is not None and not tok.strip():
        raise InputError("the token is empty; create one with `sitewatch token create`")
    return RemoteWorkspace(url, tok)


def _answers(rw: RemoteWorkspace) -> bool:
    """Whether the server in a discovery file answers (a live pid may be another program)."""
    from sitewatch.remote import RemoteError

    try:
        rw._json("GET", "/api/health")
    except RemoteError:
        return False
    return True

