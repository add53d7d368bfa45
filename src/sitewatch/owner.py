"""Who owns a workspace right now: the discovery file a running ``sitewatch serve`` writes.

While ``serve`` runs it holds the workspace database (DuckDB lets one process write a
file) and writes ``<workspace>/.sitewatch-server.json``: its URL, port, pid, start time and
a random *owner token*. The file is created with mode 0600, so only the user who may open
the database anyway can read the token; with it, ``sitewatch`` commands and
:func:`sitewatch.open` act through the server instead of opening the file.

:func:`find` returns the live server of a workspace or ``None``. A file whose pid is no
longer running (a server killed with SIGKILL, a reboot) is stale: it is removed and
ignored. :func:`publish` writes the file; :func:`withdraw` removes it only if it is still
this process's (another server may have replaced it since).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sitewatch.errors import WorkspaceError

FILE_NAME = ".sitewatch-server.json"
TOKEN_PREFIX = "swo_"  # owner tokens never look like stored API tokens (swt_…)


@dataclass(frozen=True)
class ServerInfo:
    """What a client needs to reach the server that owns a workspace."""

    url: str
    port: int
    pid: int
    token: str
    workspace: str
    started_utc: str

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def path_of(folder: str | Path) -> Path:
    return Path(folder) / FILE_NAME


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (a process of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish(folder: str | Path, url: str, port: int, token: str) -> ServerInfo:
    """Write the discovery file (mode 0600, atomically) and return what it says."""
    info = ServerInfo(url=url, port=port, pid=os.getpid(), token=token,
                      workspace=str(Path(folder).resolve()),
                      started_utc=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"))
    target = path_of(folder)
    tmp = target.with_name(f"{FILE_NAME}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask: only the owner may read the token
        os.write(fd, json.dumps(info.as_json(), indent=1).encode())
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return info


def withdraw(folder: str | Path, token: str) -> None:
    """Remove the discovery file if it is still the one this server wrote."""
    info = _read(path_of(folder))
    if info is not None and info.token == token:
        with contextlib.suppress(FileNotFoundError):
            path_of(folder).unlink()


def _read(p: Path) -> ServerInfo | None:
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        return ServerInfo(url=str(raw["url"]), port=int(raw["port"]), pid=int(raw["pid"]), token=str(raw["token"]),
                          workspace=str(raw.get("workspace", "")), started_utc=str(raw.get("started_utc", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # half-written or foreign: treated as absent (never trusted)


def find(folder: str | Path) -> ServerInfo | None:
    """The server that owns the workspace in ``folder`` now, or ``None``.

    A stale file (its pid is gone) is removed. A file readable by others than its owner is
    refused: its token may have been read, so it is not used (the error says how to fix it).
    """
    p = path_of(folder)
    try:
        st = p.stat()
    except OSError:
        return None
    info = _read(p)
    if info is None:
        return None
    if not pid_alive(info.pid):
        with contextlib.suppress(OSError):
            p.unlink()
        return None
    if st.st_mode & 0o077:
        raise WorkspaceError(f"{p} is readable by other users (mode {st.st_mode & 0o777:o}); its token is not "
                             f"used. Restart `sitewatch serve` (it writes the file with mode 600)", str(folder))
    return info
