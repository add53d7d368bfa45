"""``/api/v1``: the workspace façade over HTTP, for :class:`sitewatch.remote.RemoteWorkspace`
and for ``sitewatch`` commands run through the server.

Reads (GET) answer Arrow IPC streams (``application/vnd.apache.arrow.stream``) or JSON and
never wait for a writer (each request thread reads on its own connection, see
:mod:`sitewatch.store.shared`). Long writes — ingest, analyze, report, a command — answer a
stream of JSON lines (:mod:`sitewatch.web.jobs`) with their progress. Scopes
(:mod:`sitewatch.web.auth`): reads need what every GET needs; ingest, analyze, assess,
reports, site edits and commands need an ``admin`` token; reading files where they lie on
the server's disk, writing a report where asked, and every command (not only those of
:data:`sitewatch.cli._remote.REMOTE`) need the server's owner token, from a loopback client.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from fastapi import Body, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from sitewatch.errors import SitewatchError
from sitewatch.web import auth
from sitewatch.web.jobs import Emit, JobHandle, error_json, stream_job
from sitewatch.workspace import Workspace

NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KINDS = r"^[a-z0-9.,_-]{1,400}$"
IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"
INGEST_KINDS = r"^(adsb|ais|observations|positions|events|imagery)$"
MAX_UPLOAD_BYTES = 4 << 30
UPLOAD_PATH = "/api/v1/uploads"
READ_POSTS = ("/api/v1/exec",)  # a read token may post here: read commands only (checked per command)
ARROW = "application/vnd.apache.arrow.stream"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class SiteIn(BaseModel):
    site: dict[str, Any]
    replace: bool = False


class AssessIn(BaseModel):
    at: str | None = Field(default=None, max_length=40)
    save: bool = False


class AnalyzeIn(BaseModel):
    only: list[Annotated[str, Field(pattern=r"^[a-z0-9.-]{1,80}$")]] = Field(default_factory=list, max_length=50)
    t_from: str | None = Field(default=None, max_length=40, alias="from")
    t_to: str | None = Field(default=None, max_length=40, alias="to")


class IngestIn(BaseModel):
    format: str = Field(default="auto", pattern=r"^[a-z0-9-]{1,40}$")
    options: dict[str, Any] = Field(default_factory=dict)
    paths: list[Annotated[str, Field(max_length=4096)]] = Field(default_factory=list, max_length=10_000)
    uploads: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]] = Field(default_factory=list,
                                                                                  max_length=10_000)


class ReportIn(BaseModel):
    out: str = Field(max_length=4096)
    t_from: str | None = Field(default=None, max_length=40, alias="from")
    t_to: str | None = Field(default=None, max_length=40, alias="to")
    pdf: bool = False


class ExecIn(BaseModel):
    argv: list[Annotated[str, Field(max_length=10_000)]] = Field(max_length=500)
    columns: int = Field(default=160, ge=20, le=1000)
    out_tty: bool = False
    err_tty: bool = False
    uploads: dict[str, Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]] = Field(default_factory=dict)
    outputs: dict[str, Annotated[str, Field(max_length=255)]] = Field(default_factory=dict)


def arrow(table: pa.Table) -> Response:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW)


def _json(obj: Any) -> Response:
    from sitewatch.web.jobs import line

    return Response(line(obj), media_type="application/json")


def _fail(exc: SitewatchError) -> HTTPException:
    err = error_json(exc)
    status = 404 if err["type"] == "NotFoundError" else 422
    return HTTPException(status, {"error": err, "message": err["message"]})


def _need(request: Request, scope: str, loopback_only: bool = False) -> auth.Token:
    tok: auth.Token | None = getattr(request.state, "token", None)
    if tok is None or not tok.allows(scope):
        what = "the server's owner token (sitewatch runs it for you)" if scope == auth.OWNER else f"a {scope} token"
        raise HTTPException(403 if tok is not None else 401, f"this needs {what}")
    if loopback_only and not auth.is_loopback(request.client.host if request.client else ""):
        raise HTTPException(403, "the owner token is accepted from this machine only")
    return tok


def add_routes(app: FastAPI, ws: Workspace, scratch: Path) -> None:
    """The ``/api/v1`` routes over ``ws`` (uploads and remote outputs live in ``scratch``)."""
    uploads: dict[str, Path] = {}
    uploads_lock = threading.Lock()

    def guarded(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except SitewatchError as exc:
            raise _fail(exc) from None

    def take_upload(uid: str) -> Path:
        with uploads_lock:
            p = uploads.pop(uid, None)
        if p is None or not p.is_file():
            raise SitewatchError(f"no upload {uid!r} (each upload is used once; send the file again)")
        return p

    @app.get("/api/v1/workspace")
    def workspace() -> Response:
        """The workspace's name, folder, settings, fusion settings and sites."""
        f = guarded(lambda: ws.fusion)
        return _json({"name": ws.config.get("workspace", {}).get("name"), "folder": str(ws.folder.resolve()),
                      "settings": ws.settings, "fusion": {"near_km": f.near_km, "window_days": f.window_days},
                      "sites": [s.to_dict() for s in ws.sites.values()]})

    @app.get("/api/v1/sites/{name}")
    def get_site(name: Annotated[str, PathParam(pattern=NAME)]) -> Response:
        return _json(guarded(lambda: ws.site(name)).to_dict())

    @app.post("/api/v1/sites", status_code=201)
    def put_site(body: Annotated[SiteIn, Body()], request: Request) -> Response:
        """Add (or with ``replace`` replace) a site (admin)."""
        _need(request, "admin")
        from sitewatch.sites import Site, validate_name

        def put() -> dict[str, Any]:
            try:
                site = Site.from_dict(body.site)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                from sitewatch.errors import InputError

                raise InputError(f"not a site: {exc}") from None
            validate_name(site.name)
            ws.put_site(site, body.replace)
            return site.to_dict()

        return _json(guarded(put))

    @app.delete("/api/v1/sites/{name}")
    def delete_site(name: Annotated[str, PathParam(pattern=NAME)], request: Request) -> Response:
        """Remove a site (admin); its data in the store is kept."""
        _need(request, "admin")
        return _json(guarded(lambda: ws.remove_site(name)).to_dict())

    # -- reads -------------------------------------------------------------------------------
    @app.get("/api/v1/events", response_class=Response)
    def events(site: Annotated[str | None, Query(pattern=NAME)] = None,
               kind: Annotated[str | None, Query(pattern=KINDS)] = None,
               subject: Annotated[str | None, Query(pattern=IDENT)] = None,
               start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
               end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
               limit: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
               evidence: bool = False) -> Response:
        """Events as an Arrow IPC stream (the columns of ``Workspace.events``)."""
        return arrow(guarded(lambda: ws.events(site, kind, subject, start, end, limit, evidence)))

    @app.get("/api/v1/positions", response_class=Response)
    def positions(site: Annotated[str | None, Query(pattern=NAME)] = None,
                  source: Annotated[str | None, Query(pattern="^(adsb|ais)$")] = None,
                  subject: Annotated[str | None, Query(pattern=IDENT)] = None,
                  start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                  end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
                  limit: Annotated[int | None, Query(ge=0, le=50_000_000)] = None) -> Response:
        """Positions as an Arrow IPC stream, in time order."""
        return arrow(guarded(lambda: ws.positions(site, source, subject, start, end, limit)))

    @app.get("/api/v1/sites/{name}/timeline", response_class=Response)
    def timeline(name: Annotated[str, PathParam(pattern=NAME)],
                 start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                 end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
                 kind: Annotated[str | None, Query(pattern=KINDS)] = None, coverage: bool = False) -> Response:
        """The site's evidence timeline (rebuilt first) as an Arrow IPC stream."""
        return arrow(guarded(lambda: ws.timeline(name, start, end, kind, coverage)))

    @app.get("/api/v1/sites/{name}/indicators", response_class=Response)
    def indicators(name: Annotated[str, PathParam(pattern=NAME)],
                   at: Annotated[str | None, Query(max_length=40)] = None,
                   start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                   days: bool = False) -> Response:
        """The site's indicators as an Arrow IPC stream."""
        return arrow(guarded(lambda: ws.indicators(name, at, start, days)))

    # -- writes ------------------------------------------------------------------------------
    @app.post("/api/v1/sites/{name}/assess")
    def assess(name: Annotated[str, PathParam(pattern=NAME)], body: Annotated[AssessIn, Body()],
               request: Request) -> Response:
        """Judge the site's hypotheses (admin): the assessments as JSON, highest probability first."""
        _need(request, "admin")
        return _json([a.as_json() for a in guarded(lambda: ws.assess(name, body.at, body.save))])

    @app.post("/api/v1/analyze")
    def analyze(body: Annotated[AnalyzeIn, Body()], request: Request) -> Response:
        """Run the analyses (admin); streams ``{"analysis": name}`` lines, then the summary."""
        _need(request, "admin")

        def job(emit: Emit, _: JobHandle) -> Any:
            s = ws.analyze(body.only or None, body.t_from, body.t_to, progress=lambda n: emit({"analysis": n}))
            return {**s.as_json(), "seconds": s.seconds}

        return stream_job(job)

    @app.post("/api/v1/ingest/{kind}")
    def ingest(kind: Annotated[str, PathParam(pattern=INGEST_KINDS)], body: Annotated[IngestIn, Body()],
               request: Request) -> Response:
        """Ingest files (admin): uploaded ones, or — owner token — files where they lie on this
        machine. Streams ``progress``, ``file`` and ``warning`` lines, then the summary."""
        from dataclasses import asdict

        if body.paths:
            _need(request, auth.OWNER, loopback_only=True)
        else:
            _need(request, "admin")
        try:
            files = [take_upload(u) for u in body.uploads]
        except SitewatchError as exc:
            raise _fail(exc) from None
        paths = body.paths or [str(p) for p in files]

        def job(emit: Emit, _: JobHandle) -> Any:
            try:
                s = ws.ingest(kind, paths, body.format, progress=lambda n: emit({"progress": n}),
                              on_file=lambda r: emit({"file": asdict(r)}),
                              on_warning=lambda m: emit({"warning": m}), **body.options)
            finally:
                for p in files:
                    shutil.rmtree(p.parent, ignore_errors=True)
            return asdict(s)

        return stream_job(job)

    @app.post(UPLOAD_PATH, status_code=201)
    async def upload(request: Request, name: Annotated[str, Query(min_length=1, max_length=255)]) -> Response:
        """Receive one file for a later ingest or command (admin; the raw bytes as the body,
        ``Content-Length`` required). Answers its upload id; the file is deleted once used."""
        _need(request, "admin")
        uid = secrets.token_urlsafe(12)
        folder = scratch / f"up-{uid}"
        folder.mkdir(parents=True)
        safe = _SAFE_NAME.sub("_", Path(name).name).lstrip(".") or "upload"
        target = folder / safe
        n = 0
        with target.open("wb") as f:
            async for chunk in request.stream():
                n += len(chunk)
                if n > MAX_UPLOAD_BYTES:
                    f.close()
                    shutil.rmtree(folder, ignore_errors=True)
                    raise HTTPException(413, f"upload larger than {MAX_UPLOAD_BYTES} bytes")
                f.write(chunk)
        with uploads_lock:
            uploads[uid] = target
        return Response(json.dumps({"upload": uid, "bytes": n}), status_code=201, media_type="application/json")

    @app.post("/api/v1/sites/{name}/report")
    def report(name: Annotated[str, PathParam(pattern=NAME)], body: Annotated[ReportIn, Body()],
               request: Request) -> Response:
        """Write the site's report (admin): where asked (owner token), or in the server's
        scratch folder and sent back as ``file`` lines (base64)."""
        tok = _need(request, "admin")
        local = tok.allows(auth.OWNER) and Path(body.out).is_absolute()
        if local:
            _need(request, auth.OWNER, loopback_only=True)

        def job(emit: Emit, _: JobHandle) -> Any:
            if local:
                return _report_json(ws.report(name, body.out, body.t_from, body.t_to, body.pdf))
            folder = Path(tempfile.mkdtemp(prefix="report-", dir=scratch))
            try:
                out = folder / (_SAFE_NAME.sub("_", Path(body.out).name).lstrip(".") or "report.html")
                res = _report_json(ws.report(name, out, body.t_from, body.t_to, body.pdf))
                _send_files(folder, emit)
                return res
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        return stream_job(job)

    @app.post(READ_POSTS[0], openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ExecIn.model_json_schema()}}}})
    async def exec_command(request: Request) -> Response:
        """Run a ``sitewatch`` command in the server (owner token: any command; an API token:
        those that run through ``--server``, read commands with a read token, the others with
        admin). Streams ``o``/``e`` lines (stdout/stderr), ``file`` lines (outputs), then
        ``{"result": {"exit": code}}``."""
        from sitewatch.cli import root
        from sitewatch.cli._remote import REMOTE, kind_of, parse

        tok: auth.Token | None = getattr(request.state, "token", None)
        try:
            raw = json.loads(await request.body() or b"null")
            body = ExecIn.model_validate(raw)
        except (ValueError, TypeError) as exc:
            if tok is None or not tok.allows("admin"):
                raise HTTPException(403, "read tokens run read commands only") from None
            raise HTTPException(422, f"not a command: {str(exc)[:300]}") from None
        p = parse(root, body.argv)
        kind = kind_of(p)
        if tok is not None and tok.allows(auth.OWNER):
            _need(request, auth.OWNER, loopback_only=True)
        else:
            if p.name not in REMOTE or p.workspace or p.server or p.token:
                raise HTTPException(403, f"`sitewatch {p.name or ' '.join(body.argv[:2])}` does not run "
                                         "through --server; run it on the server's machine")
            _need(request, "read" if kind == "read" else "admin")
            for i in (*p.inputs, *p.outputs):
                if _arg(p.args, i) not in body.uploads and _arg(p.args, i) not in body.outputs:
                    raise HTTPException(403, "through --server, files are uploaded (a path on the server's "
                                             "disk is not accepted)")
        if kind == "local":
            raise HTTPException(422, f"`sitewatch {p.name or ''}` runs where it is typed, not in the server")
        folder = Path(tempfile.mkdtemp(prefix="exec-", dir=scratch))
        try:
            files = {k: take_upload(v) for k, v in body.uploads.items()}
        except SitewatchError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise _fail(exc) from None
        for i in (*p.inputs, *p.outputs):
            v = _arg(p.args, i)
            if v in files:
                _put(p.args, i, str(files[v]))
            elif v in body.outputs:
                _put(p.args, i, str(folder / (_SAFE_NAME.sub("_", Path(body.outputs[v]).name) or "out")))

        def job(emit: Emit, handle: JobHandle) -> Any:
            from sitewatch.web import cliexec

            try:
                code = cliexec.run(p.argv(), ws, emit, handle, kind, body.columns, body.out_tty, body.err_tty)
                if body.outputs:
                    _send_files(folder, emit)
                return {"exit": code}
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                for f in files.values():
                    shutil.rmtree(f.parent, ignore_errors=True)

        return stream_job(job)


def _arg(args: list[str], i: int) -> str:
    name, eq, val = args[i].partition("=")
    return val if eq and name.startswith("-") else args[i]


def _put(args: list[str], i: int, value: str) -> None:
    name, eq, _ = args[i].partition("=")
    args[i] = f"{name}={value}" if eq and name.startswith("-") else value


def _send_files(folder: Path, emit: Emit) -> None:
    for f in sorted(folder.iterdir()):
        if f.is_file():
            emit({"file": {"name": f.name, "data": base64.b64encode(f.read_bytes()).decode()}})


def _report_json(r: Any) -> dict[str, Any]:
    from dataclasses import asdict

    out: dict[str, Any] = asdict(r)
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = v.isoformat()
    return out
