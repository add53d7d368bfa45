"""A workspace through the server that owns it: the :class:`~sitewatch.facade.Facade` over HTTP.

:class:`RemoteWorkspace` has the façade's methods with the same arguments and results
(reads as :class:`pyarrow.Table`, sent as Arrow IPC streams; ``assess`` as
:class:`~sitewatch.fusion.assessment.Assessment` objects), so a notebook does not care
whether it holds the folder or the server does. It is what :func:`sitewatch.open` returns
while ``sitewatch serve`` runs on the folder (with the server's owner token, read from the
discovery file), and what :func:`sitewatch.connect` returns for a server elsewhere (with an
API token from ``sitewatch token create``).

Long operations (ingest, analyze, report, a CLI command) answer as a stream of JSON lines —
progress, files, warnings, then the result — so their progress is shown while they run.
With the owner token, ingest reads the files where they are and a report is written where
asked (same machine, same user); with an API token (``--scope admin``) files are uploaded
and reports downloaded.

Standard library only (``urllib``): the client needs nothing the server does not.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from http.client import HTTPResponse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sitewatch import errors as E
from sitewatch.facade import AnalyzeSummary, FusionSettings, Progress, Warn, assessment_from_json
from sitewatch.params import parse_time

if TYPE_CHECKING:
    from sitewatch.fusion.assessment import Assessment
    from sitewatch.report.build import ReportResult
    from sitewatch.sites import Site
    from sitewatch.store.ingest import FileResult, IngestSummary

TIMEOUT_S = 60.0  # between two lines of a long operation's stream (the server sends one every second)
UPLOAD_CHUNK = 1 << 20


class RemoteError(E.SitewatchError, ConnectionError):
    """The server could not be reached, or answered with an error of its own."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


_ERRORS: dict[str, type[E.SitewatchError]] = {
    "InputError": E.InputError, "FormatError": E.InputError, "ConfigError": E.ConfigError,
    "WorkspaceError": E.WorkspaceError, "StoreError": E.StoreError, "AuthError": E.AuthError,
    "DependencyError": E.DependencyError, "NotFoundError": E.InputError, "AmbiguousError": E.InputError,
}


def raise_remote(err: Mapping[str, Any], status: int | None = None) -> None:
    """Raise the error a server reported (``{"type": …, "message": …}``) as the same kind here."""
    cls = _ERRORS.get(str(err.get("type")))
    msg = str(err.get("message") or err.get("detail") or "the server failed")
    if cls is not None:
        raise cls(msg)
    if status in (401, 403):
        raise E.AuthError(msg)
    raise RemoteError(msg, status)


def _q(v: Any) -> Any:
    if isinstance(v, datetime):
        return parse_time(v).isoformat()  # type: ignore[union-attr]
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return ",".join(map(str, v))
    return v


class RemoteWorkspace:
    """The :class:`~sitewatch.facade.Facade` of a workspace, through its server (see the module)."""

    def __init__(self, url: str, token: str | None = None, folder: str | Path | None = None,
                 owner: bool = False) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise E.InputError(f"server URL {url!r} is not http(s)://HOST:PORT")
        self.url = url.rstrip("/")
        self.token = token
        self.folder = Path(folder) if folder is not None else None
        self.owner = owner  # the owner token: same machine, same user (paths are shared)

    def __repr__(self) -> str:
        return f"RemoteWorkspace({self.url!r}{', owner' if self.owner else ''})"

    def __enter__(self) -> RemoteWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: every call is one request."""

    # -- transport ---------------------------------------------------------------------------
    def _open(self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None,
              data: bytes | Iterable[bytes] | None = None, headers: Mapping[str, str] | None = None,
              timeout: float = TIMEOUT_S) -> HTTPResponse:
        q = {k: _q(v) for k, v in (params or {}).items() if v is not None}
        url = self.url + path + (("?" + urllib.parse.urlencode(q)) if q else "")
        h = {"Accept": "application/json", **(headers or {})}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        payload: Any = data
        if body is not None:
            payload = json.dumps(body, default=_default).encode()
            h["Content-Type"] = "application/json"
        if isinstance(payload, bytes):
            h["Content-Length"] = str(len(payload))
        req = urllib.request.Request(url, data=payload, method=method, headers=h)
        try:
            resp: HTTPResponse = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}")
            except ValueError:
                detail = {}
            d = detail.get("detail") if isinstance(detail, dict) else None
            err = detail.get("error") if isinstance(detail, dict) else None
            if isinstance(err, dict):
                raise_remote(err, exc.code)
            raise_remote({"message": d if isinstance(d, str) else f"{exc.code} {exc.reason} from {self.url}{path}"},
                         exc.code)
            raise  # pragma: no cover - raise_remote always raises
        except urllib.error.URLError as exc:
            raise RemoteError(f"cannot reach the sitewatch server at {self.url}: {exc.reason}") from None
        except (ConnectionError, TimeoutError) as exc:
            raise RemoteError(f"cannot reach the sitewatch server at {self.url}: {exc}") from None
        return resp

    def _json(self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        with self._open(method, path, params, body) as resp:
            return json.loads(resp.read() or b"null")

    def _arrow(self, path: str, params: Mapping[str, Any]) -> pa.Table:
        with self._open("GET", path, params, headers={"Accept": "application/vnd.apache.arrow.stream"}) as resp:
            return pa.ipc.open_stream(resp.read()).read_all()

    def stream(self, path: str, body: Any, on_line: Callable[[dict[str, Any]], None] | None = None) -> Any:
        """POST ``body`` to a long operation; hand each line to ``on_line``; return its result."""
        with self._open("POST", path, body=body) as resp:
            return _follow(resp, on_line)

    # -- settings and sites ------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Name, folder, settings and sites of the workspace, as the server holds them now."""
        out: dict[str, Any] = self._json("GET", "/api/v1/workspace")
        return out

    @property
    def config(self) -> dict[str, Any]:
        info = self.info()
        return {"workspace": {"name": info.get("name")}, "settings": info["settings"], "sites": info["sites"]}

    @property
    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = self.info()["settings"]
        return out

    def setting(self, key: str, default: Any = None) -> Any:
        node: Any = self.settings
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def fusion(self) -> FusionSettings:
        return FusionSettings.of(self.settings)

    @property
    def sites(self) -> dict[str, Site]:
        from sitewatch.sites import Site

        return {d["name"]: Site.from_dict(d) for d in self.info()["sites"]}

    def site(self, name: str) -> Site:
        from sitewatch.sites import Site

        return Site.from_dict(self._json("GET", f"/api/v1/sites/{_seg(name)}"))

    def put_site(self, site: Site, replace: bool = False) -> None:
        self._json("POST", "/api/v1/sites", body={"site": site.to_dict(), "replace": replace})

    def remove_site(self, name: str) -> Site:
        from sitewatch.sites import Site

        return Site.from_dict(self._json("DELETE", f"/api/v1/sites/{_seg(name)}"))

    # -- writes ------------------------------------------------------------------------------
    def ingest(self, kind: str, paths: str | Path | Iterable[str | Path], format: str = "auto", *,
               progress: Progress | None = None, on_file: Callable[[FileResult], None] | None = None,
               on_warning: Warn | None = None, **options: Any) -> IngestSummary:
        """As :meth:`sitewatch.facade.Facade.ingest`; files are read by the server where they
        are (owner) or uploaded first (API token)."""
        from sitewatch.store.ingest import FileResult, IngestSummary

        plist = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        for p in plist:
            if not p.exists():
                raise E.InputError(f"{p}: no such file or folder")
        body: dict[str, Any] = {"format": format, "options": options}
        if self.owner:
            body["paths"] = [str(p.resolve()) for p in plist]
        else:
            body["uploads"] = [self.upload(f) for p in plist for f in _files(p)]

        def line(m: dict[str, Any]) -> None:
            if "progress" in m and progress:
                progress(int(m["progress"]))
            elif "file" in m and on_file:
                on_file(FileResult(**m["file"]))
            elif "warning" in m:
                (on_warning or _log_warning)(str(m["warning"]))

        res = self.stream(f"/api/v1/ingest/{_seg(kind)}", body, line)
        summary = IngestSummary(**{k: v for k, v in res.items() if k != "results"})
        summary.results = [FileResult(**r) for r in res.get("results", [])]
        return summary

    def upload(self, path: Path) -> str:
        """Send one file to the server (admin token); returns its upload id for one ingest."""
        size = path.stat().st_size

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(UPLOAD_CHUNK):
                    yield chunk

        with self._open("POST", "/api/v1/uploads", {"name": path.name}, data=chunks(),
                        headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                        timeout=max(TIMEOUT_S, size / 1e6)) as resp:
            return str(json.loads(resp.read())["upload"])

    def analyze(self, only: Sequence[str] | None = None, t_from: datetime | str | None = None,
                t_to: datetime | str | None = None, progress: Callable[[str], None] | None = None) -> AnalyzeSummary:
        def line(m: dict[str, Any]) -> None:
            if "analysis" in m and progress:
                progress(str(m["analysis"]))

        res = self.stream("/api/v1/analyze", {"only": list(only or []), "from": _q(t_from), "to": _q(t_to)}, line)
        return AnalyzeSummary(dict(res["by_analysis"]), float(res["seconds"]))

    def assess(self, site: str, at: datetime | str | None = None, save: bool = False) -> list[Assessment]:
        rows = self._json("POST", f"/api/v1/sites/{_seg(site)}/assess", body={"at": _q(at), "save": save})
        return [assessment_from_json(r) for r in rows]

    def report(self, site: str, out: str | Path, t_from: datetime | str | None = None,
               t_to: datetime | str | None = None, pdf: bool = False) -> ReportResult:
        from sitewatch.report.build import ReportResult

        target = Path(out).resolve()
        body = {"from": _q(t_from), "to": _q(t_to), "pdf": pdf, "out": str(target) if self.owner else target.name}
        res = self.stream(f"/api/v1/sites/{_seg(site)}/report", body,
                          lambda m: _save_file(m, target.parent) if "file" in m else None)
        fields = set(ReportResult.__dataclass_fields__)
        r = ReportResult(**{k: v for k, v in res.items() if k in fields})
        if not self.owner:  # the server wrote into its own folder: name the copies made here
            r.out = str(target)
            r.appendix = str(target.parent / Path(r.appendix).name) if r.appendix else None
            r.csv = [str(target.parent / Path(c).name) for c in r.csv]
            r.pdf = str(target.parent / Path(r.pdf).name) if r.pdf else None
        return r

    # -- reads -------------------------------------------------------------------------------
    def events(self, site: str | None = None, kind: str | Sequence[str] | None = None, subject: str | None = None,
               t_from: datetime | str | None = None, t_to: datetime | str | None = None, limit: int | None = None,
               evidence: bool = False) -> pa.Table:
        return self._arrow("/api/v1/events", {"site": site, "kind": _q(kind), "subject": subject,
                                              "from": _q(t_from), "to": _q(t_to), "limit": limit,
                                              "evidence": evidence or None})

    def positions(self, site: str | None = None, source: str | None = None, subject: str | None = None,
                  t_from: datetime | str | None = None, t_to: datetime | str | None = None,
                  limit: int | None = None) -> pa.Table:
        return self._arrow("/api/v1/positions", {"site": site, "source": source, "subject": subject,
                                                 "from": _q(t_from), "to": _q(t_to), "limit": limit})

    def timeline(self, site: str, t_from: datetime | str | None = None, t_to: datetime | str | None = None,
                 kind: str | Sequence[str] | None = None, coverage: bool = False) -> pa.Table:
        return self._arrow(f"/api/v1/sites/{_seg(site)}/timeline",
                           {"from": _q(t_from), "to": _q(t_to), "kind": _q(kind), "coverage": coverage or None})

    def indicators(self, site: str, at: datetime | str | None = None, t_from: datetime | str | None = None,
                   days: bool = False) -> pa.Table:
        return self._arrow(f"/api/v1/sites/{_seg(site)}/indicators",
                           {"at": _q(at), "from": _q(t_from), "days": days or None})

    # -- commands ----------------------------------------------------------------------------
    def run_command(self, argv: Sequence[str], *, columns: int = 160, out_tty: bool = False,
                    err_tty: bool = False, uploads: Mapping[str, str] | None = None,
                    outputs: Mapping[str, str] | None = None, out_dir: Path | None = None,
                    write_out: Callable[[str], None] | None = None,
                    write_err: Callable[[str], None] | None = None) -> int:
        """Run a ``sitewatch`` command in the server; relay its stdout/stderr; return its exit code."""
        import sys

        wo = write_out or (lambda t: (sys.stdout.write(t), sys.stdout.flush()))
        we = write_err or (lambda t: (sys.stderr.write(t), sys.stderr.flush()))

        def line(m: dict[str, Any]) -> None:
            if "o" in m:
                wo(str(m["o"]))
            elif "e" in m:
                we(str(m["e"]))
            elif "file" in m and out_dir is not None:
                _save_file(m, out_dir)

        res = self.stream("/api/v1/exec", {"argv": list(argv), "columns": columns, "out_tty": out_tty,
                                           "err_tty": err_tty, "uploads": dict(uploads or {}),
                                           "outputs": dict(outputs or {})}, line)
        return int(res.get("exit", 1))


def _follow(resp: HTTPResponse, on_line: Callable[[dict[str, Any]], None] | None) -> Any:
    """Read a stream of JSON lines until its ``result`` (or ``error``)."""
    for raw in resp:
        if not raw.strip():
            continue
        m = json.loads(raw)
        if "result" in m:
            return m["result"]
        if "error" in m:
            raise_remote(m["error"])
        if on_line is not None and "k" not in m:
            on_line(m)
    raise RemoteError("the server closed the connection before the operation finished (see its log)")


def _save_file(m: Mapping[str, Any], folder: Path) -> None:
    f = m["file"]
    name = Path(str(f["name"])).name  # never a path from the server: a file beside the one asked for
    if not name or name.startswith("."):
        return
    data = base64.b64decode(f["data"])
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data)
    os.replace(tmp, folder / name)


def _files(p: Path) -> list[Path]:
    return sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]


def _seg(name: str) -> str:
    return urllib.parse.quote(str(name), safe="")


def _default(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Path):
        return str(v)
    if hasattr(v, "__dataclass_fields__"):
        return asdict(v)
    return str(v)


def _log_warning(msg: str) -> None:
    import logging

    logging.getLogger("sitewatch").warning("%s", msg)
