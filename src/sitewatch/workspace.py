"""A workspace: a folder holding ``sitewatch.toml`` (settings, sites) and ``sitewatch.duckdb``.

:meth:`Workspace.init` creates one; :meth:`Workspace.open` opens one directly and fails with
a message naming the folder when there is none. :func:`resolve_dir` applies the default
(``$SITEWATCH_WORKSPACE``, else the current folder). Writes of ``sitewatch.toml`` are
atomic (temp file + rename); a change made to it by someone else (an editor, another
process) is read again on the next use.

What a workspace *does* (ingest, analyze, events, positions, timeline, indicators, assess,
report) is the :class:`~sitewatch.facade.Facade` mixed in here; :func:`sitewatch.open`
returns this class, or the same methods through the server that owns the folder
(:class:`~sitewatch.remote.RemoteWorkspace`).
"""

from __future__ import annotations

import os
import threading
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from sitewatch.errors import ConfigError, NotFoundError, StoreError, WorkspaceError
from sitewatch.facade import Facade
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


class Workspace(Facade):
    """Settings, sites and the store of one workspace folder, opened directly."""

    def __init__(self, folder: Path, config: dict[str, Any], read_only: bool = False,
                 store: Store | None = None) -> None:
        self.folder = folder
        self._config = config
        self._config_stamp = _stamp(folder / CONFIG_NAME)
        self._config_lock = threading.RLock()
        self.read_only = read_only
        self._store: Store | None = store
        self._owns_store = store is None

    @property
    def config(self) -> dict[str, Any]:
        """``sitewatch.toml`` as a dict, read again when the file changed on disk."""
        stamp = _stamp(self.folder / CONFIG_NAME)
        if stamp is not None and stamp != self._config_stamp:
            with self._config_lock:
                self._config = _load(self.folder)
                self._config_stamp = stamp
        return self._config

    @config.setter
    def config(self, value: dict[str, Any]) -> None:
        self._config = value

    def borrowed(self) -> Workspace:
        """This workspace for one caller in the same process (a command the server runs for a
        client): same folder, settings and store, but ``close()`` leaves the store open."""
        ws = Workspace(self.folder, self._config, self.read_only, store=self.store)
        ws._config_stamp = self._config_stamp
        ws._config_lock = self._config_lock
        ws._parent = self  # type: ignore[attr-defined]
        return ws

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
        return cls(f, _load(f), read_only=read_only)

    @classmethod
    def serving(cls, folder: str | Path) -> Workspace:
        """The workspace opened by the process that owns it (``sitewatch serve``): its store is
        shared by the process's threads (:class:`~sitewatch.store.shared.SharedStore`)."""
        from sitewatch.store.shared import SharedStore

        ws = cls.open(Path(folder).resolve())
        ws._store = SharedStore(ws.store)
        return ws

    # -- store -------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.folder / DB_NAME

    @property
    def store(self) -> Store:
        if self._store is None:
            limit = os.environ.get("SITEWATCH_MEMORY_LIMIT") or self.setting("store.memory_limit")
            try:
                self._store = Store(self.db_path, read_only=self.read_only,
                                    memory_limit=None if limit in (None, "") else str(limit))
            except StoreError as exc:
                raise _held(self.folder, exc) from exc
        return self._store

    def close(self) -> None:
        if self._store is not None and self._owns_store:
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
        with self._config_lock:
            tmp = path.with_suffix(f".toml.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(tomli_w.dumps(self._config), encoding="utf-8")
            os.replace(tmp, path)
            self._config_stamp = _stamp(path)
            parent = getattr(self, "_parent", None)
            if parent is not None:  # a borrowed workspace writes for its owner: one config in memory
                parent._config, parent._config_stamp = self._config, self._config_stamp

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
        with self._config_lock:
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
        with self._config_lock:
            site = self.site(name)
            self.config["sites"] = [d for d in self.config["sites"] if d["name"] != name]
            self.save()
        return site


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _load(f: Path) -> dict[str, Any]:
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
    return config


def _held(folder: Path, exc: StoreError) -> StoreError:
    """The database is locked: say who holds it and what to do instead."""
    from sitewatch import owner

    try:
        info = owner.find(folder)
    except WorkspaceError:
        info = None
    if info is not None:
        return StoreError(f"the workspace database is held by `sitewatch serve` (pid {info.pid}, {info.url}); "
                          "sitewatch commands and sitewatch.open() act through it — this caller opened the file "
                          "directly instead (use sitewatch.open(path), or stop the server)")
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return StoreError(f"cannot open the workspace database {folder / DB_NAME}: {cause}. Another process holds it "
                      "(a `sitewatch stream`, a script): stop it — or keep one `sitewatch serve` running on the "
                      "workspace, through which commands, notebooks and the dashboard all work at once")
