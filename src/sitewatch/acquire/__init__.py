"""Fetchers: bring open data into a workspace from where it is published, for the watched sites.

Each source is one module here that registers itself with :func:`register` (as format readers
do in :mod:`sitewatch.sources`): a new source is one file plus its tests. A source declares
its :class:`SourceInfo` — kind, name, licence, attribution, home page, and the environment
variables it reads for keys (never logged, never stored) — and the commands of
``sitewatch fetch`` call it. Nothing is downloaded unless the user runs such a command.

Shared pieces: :mod:`.http` (retries, resumable downloads, size and checksum checks).
Provenance of every fetched file (URL, size, SHA-256, licence, attribution) is stored with
its ``ingest_log`` row (:mod:`sitewatch.store.ingest_log` lists it for reports).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from sitewatch.errors import InputError


@dataclass(frozen=True)
class SourceInfo:
    """Who publishes the data, under which terms, and what a fetch of it needs."""

    kind: str  # adsb, ais, imagery
    name: str  # as given to the command (--archive NAME)
    title: str
    licence: str  # SPDX-like id, e.g. ODbL-1.0
    licence_url: str
    attribution: str  # the line a report must show
    homepage: str
    key_env: tuple[str, ...] = ()  # environment variables read for keys/tokens (optional ones too)

    def as_json(self) -> dict[str, Any]:
        return {"source": self.name, "title": self.title, "licence": self.licence, "licence_url": self.licence_url,
                "attribution": self.attribution, "homepage": self.homepage}


_REGISTRY: dict[str, dict[str, Any]] = {}
_SHARED = frozenset({"http"})  # helper modules, not sources


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: instantiate the source and add it under its kind and name."""
    inst = cls()
    info: SourceInfo = inst.info
    _REGISTRY.setdefault(info.kind, {})[info.name] = inst
    return cls


def sources(kind: str) -> dict[str, Any]:
    """Registered sources of ``kind`` (importing this package's modules registers them)."""
    import pkgutil

    import sitewatch.acquire as pkg

    for m in pkgutil.iter_modules(pkg.__path__):
        if not m.name.startswith("_") and m.name not in _SHARED:
            importlib.import_module(f"sitewatch.acquire.{m.name}")
    return dict(_REGISTRY.get(kind, {}))


def get(kind: str, name: str) -> Any:
    regs = sources(kind)
    if name not in regs:
        raise InputError(f"unknown {kind} source {name!r}; choose one of: {', '.join(sorted(regs)) or 'none'}")
    return regs[name]
