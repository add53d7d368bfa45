"""A workspace: a folder holding ``sitewatch.toml`` (settings, sites) and ``sitewatch.duckdb``.

:meth:`Workspace.init` creates one; :meth:`Workspace.open` opens one and fails with a
message naming the folder when there is none. :func:`resolve_dir` applies the default
(``$SITEWATCH_WORKSPACE``, else the current folder). Writes of ``sitewatch.toml`` are
atomic (temp file + rename).
"""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from sitewatch.errors import ConfigError, NotFoundError, WorkspaceError
from sitewatch.sites import Site
from sitewatch.store.db import Store

CONFIG_NAME = "sitewatch.toml"
DB_NAME = "sitewatch.duckdb"


def resolve_dir(workspace: str | Path | None) -> Path:
    """The workspace folder: the argument, else ``$SITEWATCH_WORKSPACE``, else ``.``."""
    if workspace:
        return Path(workspace)
    env = os.environ.get("SITEWATCH_WORKSPACE")
    return Path(env) if env else Path.cwd()


class Workspace:
    """Settings, sites and the store of one workspace folder."""

    def __init__(self, folder: Path, config: dict[str, Any], read_only: bool = False) -> None:
        self.folder = folder
        self.config = config
        self.read_only = read_only
        self._store: Store | None = None

    # -- creation / opening ------------------------------------------------------------
    @classmethod
    def init(cls, folder: str | Path, name: str | None = None) -> Workspace:
        f = Path(folder)
        f.mkdir(parents=True, exist_ok=True)
        cfg_path = f / CONFIG_NAME
        if cfg_path.exists():
            raise WorkspaceError(
                f"{f} already holds a workspace ({CONFIG_NAME}); use it, or choose another folder",
                str(f),
            )
        config: dict[str, Any] = {
            "workspace": {
                "name": name or f.resolve().name,
                "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            "settings": {},
            "sites": [],
        }
        ws = cls(f, config)
        ws.save()
        ws.store  # creates the database and its tables  # noqa: B018
        return ws

    @classmethod
    def open(cls, folder: str | Path | None = None, read_only: bool = False) -> Workspace:
        f = resolve_dir(folder)
        cfg_path = f / CONFIG_NAME
        if not cfg_path.is_file():
            raise WorkspaceError(
                f"no sitewatch workspace in {f.resolve()} (no {CONFIG_NAME}); "
                f"create one with `sitewatch init {f}` or pass -w/--workspace DIR",
                str(f),
            )
        try:
            config = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{cfg_path}: invalid TOML ({exc}); fix the file by hand") from None
        config.setdefault("settings", {})
        config.setdefault("sites", [])
        return cls(f, config, read_only=read_only)

    # -- store -------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.folder / DB_NAME

    @property
    def store(self) -> Store:
        if self._store is None:
            limit = os.environ.get("SITEWATCH_MEMORY_LIMIT") or self.setting("store.memory_limit")
            self._store = Store(self.db_path, read_only=self.read_only,
                                memory_limit=None if limit in (None, "") else str(limit))
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- settings ----------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        s: dict[str, Any] = self.config["settings"]
        return s

    def setting(self, key: str, default: Any = None) -> Any:
        """A dotted setting, e.g. ``setting('air.gap_low_s', 300)``."""
        node: Any = self.settings
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def save(self) -> None:
        if self.read_only:
            raise WorkspaceError(f"workspace {self.folder} is open read-only", str(self.folder))
        path = self.folder / CONFIG_NAME
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text(tomli_w.dumps(self.config), encoding="utf-8")
        os.replace(tmp, path)

    # -- sites -------------------------------------------------------------------------
    @property
    def sites(self) -> dict[str, Site]:
        return {d["name"]: Site.from_dict(d) for d in self.config["sites"]}

    def site(self, name: str) -> Site:
        sites = self.sites
        if name in sites:
            return sites[name]
        import difflib

        raise NotFoundError(
            "site", name, difflib.get_close_matches(name, list(sites), n=5, cutoff=0.4) or list(sites),
            hint="list them with `sitewatch site list`",
        )

    def put_site(self, site: Site, replace: bool = False) -> None:
        existing = [d for d in self.config["sites"] if d["name"] == site.name]
        if existing and not replace:
            raise ConfigError(
                f"site {site.name!r} already exists; remove it first (`sitewatch site remove "
                f"{site.name}`) or choose another name"
            )
        self.config["sites"] = [d for d in self.config["sites"] if d["name"] != site.name]
        self.config["sites"].append(site.to_dict())
        self.save()

    def remove_site(self, name: str) -> Site:
        site = self.site(name)
        self.config["sites"] = [d for d in self.config["sites"] if d["name"] != name]
        self.save()
        return site
