"""The dashboard server: a FastAPI app over one workspace (``sitewatch serve``).

:func:`create_app` builds the app; the API is documented at ``/openapi.json`` and
``/docs``-free (no CDN assets). Every request passes :func:`_guard` first: token policy
(see :mod:`sitewatch.web.auth`), a body-size cap, and safe response headers. Every
input is validated by its declared type and bounds; file-serving routes resolve names
inside one folder of the workspace only.

The server owns its workspace: its store is shared by the request threads, the live feeds
and the commands it runs for clients (:mod:`sitewatch.store.shared`: reads never wait for a
writer, writers take turns), and ``/api/v1`` (:mod:`sitewatch.web.owner_api`) is the
workspace façade over HTTP for ``sitewatch`` commands and :func:`sitewatch.open`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from sitewatch import kinds as K
from sitewatch.errors import SitewatchError
from sitewatch.store import assessments as ASM
from sitewatch.store import detections as DET
from sitewatch.store import events as EV
from sitewatch.store import evidence as EVD
from sitewatch.store import ingest_log as ILOG
from sitewatch.store import positions as POS
from sitewatch.store import scenes as SC
from sitewatch.store.events import list_events
from sitewatch.store.evidence import evidence_rows
from sitewatch.web import auth, charts, owner_api
from sitewatch.workspace import Workspace

MAX_BODY_BYTES = 1_000_000
CHIP_PX = 1024  # longest side of a chip drawn for the dashboard
CHIP_CACHE = 32  # chips kept in memory (about 1 MB each)
NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"
SAFE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
COOKIE = "sw_token"


class ObservationIn(BaseModel):
    """An analyst observation posted from the dashboard."""

    site: str = Field(pattern=NAME)
    t_utc: datetime
    text: str = Field(min_length=1, max_length=2000)
    count: float | None = Field(default=None, ge=0, le=1_000_000)
    object_class: str | None = Field(default=None, max_length=64, alias="class")
    zone: str | None = Field(default=None, pattern=NAME)
    source: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    confidence: float | None = Field(default=None, ge=0, le=1)


def _parse_t(v: str | None, name: str) -> datetime | None:
    if v is None:
        return None
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name} is not an ISO 8601 time") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _json(obj: Any, status: int = 200) -> Response:
    def default(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if hasattr(v, "item"):
            return v.item()
        return str(v)

    return Response(json.dumps(obj, default=default), status_code=status, media_type="application/json")


def _live_threads(ws: Workspace, feeds: list[tuple[str, str]]) -> list[Any]:
    """Stream objects for ``feeds`` ((kind, HOST:PORT or PORT)), writing into ``ws``."""
    from sitewatch.live import feed_for

    return [feed_for(ws, kind, target) for kind, target in feeds]


def create_app(workspace: str | Path, host: str = "127.0.0.1", live_poll_s: float = 1.0,
               live_feeds: list[tuple[str, str]] | None = None, owner_token: str | None = None) -> FastAPI:
    """The app over the workspace at ``workspace``, serving as if bound to ``host``.

    ``live_feeds`` (e.g. ``[("adsb-beast", "127.0.0.1:30005")]``) are streamed into the same
    workspace by threads of this process while it serves. ``owner_token`` is the token of
    the discovery file (:mod:`sitewatch.owner`): with it a local client may run any command.
    """
    import contextlib
    import shutil
    import tempfile
    import threading

    ws = Workspace.serving(workspace)
    store = ws.store
    streams = _live_threads(ws, live_feeds or [])
    scratch = Path(tempfile.mkdtemp(prefix="sitewatch-serve-"))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threads = [threading.Thread(target=st.run, name=f"live-{st.source}", daemon=True) for st in streams]
        for t in threads:
            t.start()
        try:
            yield
        finally:
            for st in streams:
                st.stop()
            for t in threads:
                t.join(10)
            shutil.rmtree(scratch, ignore_errors=True)

    loopback = auth.is_loopback(host)
    if not loopback and not auth.has_tokens(store):
        raise SitewatchError(
            f"refusing to serve on {host}: beyond 127.0.0.1 every request needs a token, and this workspace "
            "has none; create one with `sitewatch token create --scope read`"
        )
    app = FastAPI(title="sitewatch", version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Read-only by default. Beyond 127.0.0.1 every request needs "
                              "`Authorization: Bearer <token>`; writes need a token with write scope.")
    app.state.ws = ws
    app.state.streams = streams
    app.state.owner_token = owner_token
    static = Path(str(resources.files("sitewatch.web").joinpath("static")))

    @app.middleware("http")
    async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        resp = await _check(request)
        if resp is None:
            resp = await call_next(request)
        for k, v in SAFE_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    async def _check(request: Request) -> Response | None:
        length = request.headers.get("content-length")
        cap = owner_api.MAX_UPLOAD_BYTES if request.url.path == owner_api.UPLOAD_PATH else MAX_BODY_BYTES
        if length is not None and (not length.isdigit() or int(length) > cap):
            return JSONResponse({"detail": f"body larger than {cap} bytes"}, status_code=413)
        write = request.method not in ("GET", "HEAD", "OPTIONS")
        if write and length is None:  # no chunked uploads: the size cap needs a declared length
            return JSONResponse({"detail": "Content-Length required"}, status_code=411)
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header.lower().startswith("bearer ") else None
        if presented is None and not write:
            presented = request.cookies.get(COOKIE)
            qtok = request.query_params.get("token")
            if qtok and request.url.path == "/":
                presented = qtok
        token = auth.owner_token(presented, owner_token)
        if token is None and presented:
            token = await run_in_threadpool(auth.verify, store, presented)
        if presented and token is None:
            return JSONResponse({"detail": "invalid or revoked token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        client = request.client.host if request.client else ""
        if write:
            if token is None:
                return JSONResponse({"detail": "writes need a token with write scope"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            if not token.allows("write") and request.url.path not in owner_api.READ_POSTS:
                return JSONResponse({"detail": "this token is read-only; writes need write scope"}, status_code=403)
        elif token is None and not (loopback and auth.is_loopback(client)):
            return JSONResponse({"detail": "a token is required beyond localhost"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        request.state.token = token
        return None

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        # the default handler echoes the input, and an Infinity/NaN in it made the reply itself fail (500)
        return JSONResponse({"detail": [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]},
                            status_code=422)

    # -- pages -------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index(request: Request, token: str | None = None) -> Response:
        if token:  # exchange a token in the link for an HttpOnly cookie, and drop it from the URL
            resp: Response = RedirectResponse("/", status_code=303)
            resp.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return resp
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=static), name="static")

    # -- API ---------------------------------------------------------------------------
    owner_api.add_routes(app, ws, scratch)

    @app.get("/api/health")
    def health() -> Response:
        return _json({"ok": True, "workspace": ws.config["workspace"].get("name"), "t_utc": datetime.now(UTC),
                      "simulated": _safe(lambda: ILOG.workspace_simulated(store), False)})

    @app.get("/api/sites")
    def sites(since: Annotated[str | None, Query(max_length=40)] = None) -> Response:
        t_since = _parse_t(since, "since")
        sim = _safe(lambda: EVD.simulated_sites(store), {})
        out = []
        for s in ws.sites.values():
            item: dict[str, Any] = {"name": s.name, "kind": s.kind, "lat": s.lat, "lon": s.lon, "label": s.label,
                                    "zones": [z.name for z in s.zones], "simulated": bool(sim.get(s.name))}
            item["assessment"] = _safe(functools.partial(ASM.latest_assessments, store, s.name), [])
            for a in item["assessment"]:
                _headline(a, charts.body_of(a))
            recent = list_events(store, site=s.name, t_from=datetime.now(UTC) - timedelta(days=1))
            item["events_24h"] = len(recent)
            item.update(_safe(functools.partial(EV.last_day_of_events, store, s.name), {}))
            item["indicators"] = _indicators_today(s.name)
            if t_since is not None:
                item["new_since"] = len(_events_computed_since(s.name, t_since))
            out.append(item)
        return _json(out)

    def _headline(a: dict[str, Any], body: dict[str, Any]) -> None:
        """An assessment row for the sites page: its judgement sentence and status instead of the body."""
        a.pop("body", None)
        a["judgement"] = (body.get("judgement") or {}).get("text")
        a["status"] = body.get("status")
        a["evidence_through"] = body.get("evidence_through")

    def _events_computed_since(site: str, t: datetime) -> list[dict[str, Any]]:
        return [e for e in EV.events_since(store, t, 10_000) if e["site"] == site]

    def _indicators_today(site: str) -> list[dict[str, Any]]:
        rows = [{"indicator": x["label"], "value": x["value"], "score": x["score"], "status": x["status"]}
                for x in _series(site)]
        rows.sort(key=lambda r: -abs(r["score"] or 0.0))
        return rows[:6]

    def _series(site: str) -> list[dict[str, Any]]:
        """Indicator series from the fusion layer (empty until evidence exists)."""
        from sitewatch.fusion import indicators as ind

        def compute() -> list[dict[str, Any]]:
            out = []
            f = ws.fusion  # the settings timeline, assess and the report use
            for se in ind.compute(store, ws.sites[site], None, None, f.window_days, near_km=f.near_km):
                out.append({"name": se.name, "label": se.label, "sensor": se.sensor, "value": se.value,
                            "score": se.score, "status": se.status, "sentence": se.sentence,
                            "points": [{"day": d.day.isoformat(), "value": d.value, "baseline": d.baseline_median,
                                        "status": d.status} for d in se.days]})
            return out

        result: list[dict[str, Any]] = _safe(compute, [])
        return result

    @app.get("/api/sites/{name}")
    def site(name: Annotated[str, PathParam(pattern=NAME)]) -> Response:
        s = _site(name)
        span = POS.time_span(store, _bbox(s, 1.0))
        sim = bool(_safe(lambda: EVD.simulated_sites(store), {}).get(name))
        return _json({**s.to_geojson(), "site": {"name": s.name, "kind": s.kind, "lat": s.lat, "lon": s.lon,
                                                 "label": s.label, "simulated": sim}, "span": span})

    @app.get("/api/sites/{name}/tracks")
    def tracks(name: Annotated[str, PathParam(pattern=NAME)],
               start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
               end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
               source: Annotated[str | None, Query(pattern="^(adsb|ais)$")] = None,
               margin_deg: Annotated[float, Query(ge=0, le=10)] = 1.0,
               max_points: Annotated[int, Query(ge=10, le=200_000)] = 20_000) -> Response:
        s = _site(name)
        t0, t1 = _window(start, end)
        pts = POS.track_points(store, _bbox(s, margin_deg), t0, t1, source, max_points)
        return _json(_tracks_geojson(pts))

    @app.get("/api/events")
    def events(site: Annotated[str | None, Query(pattern=NAME)] = None,
               kind: Annotated[str | None, Query(max_length=200, pattern=r"^[a-z.,-]+$",
                                                 description="kinds, canonical (air.arrival) or short (arrival)")] = None,
               subject: Annotated[str | None, Query(pattern=IDENT)] = None,
               start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
               end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Response:
        t0, t1 = _window(start, end)
        short, wanted = _kinds(kind)
        rows = list_events(store, site, short, t0, t1, subject, limit)
        K.name_rows(rows)
        for r in rows:
            r["layer"] = K.layer(r["canonical_kind"])  # how the map draws it, as its analysis declares
        return _json([r for r in rows if not wanted or r["canonical_kind"] in wanted])

    def _kinds(kind: str | None) -> tuple[list[str] | None, set[str]]:
        requested = K.split([kind or ""])
        if not requested:
            return None, set()
        try:
            short, wanted = K.resolve_events(store, requested)
        except SitewatchError as exc:
            raise HTTPException(422, str(exc)) from None
        return short, wanted

    def _window(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
        t0, t1 = _parse_t(start, "from"), _parse_t(end, "to")
        if t0 is not None and t1 is not None and t1 <= t0:
            raise HTTPException(422, f"'to' ({end}) is not after 'from' ({start}): swap them")
        return t0, t1

    @app.get("/api/events/{event_id}")
    def event(event_id: Annotated[str, PathParam(pattern=IDENT)]) -> Response:
        rows = list_events(store, event_id=event_id)
        if not rows:
            raise HTTPException(404, "no such event")
        ev = rows[0]
        ev["canonical_kind"] = K.canonical(ev)
        ev["evidence_rows"] = [evidence_rows(store, ref) for ref in ev["evidence"]]
        return _json(ev)

    @app.get("/api/sites/{name}/timeline")
    def timeline(name: Annotated[str, PathParam(pattern=NAME)],
                 start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                 end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 2000,
                 coverage: Annotated[bool, Query(description="include the daily coverage rows")] = False) -> Response:
        _site(name)
        t0, t1 = _window(start, end)
        ev = _safe(lambda: EVD.evidence_for_site(store, name, t0, t1, limit), [])
        if not coverage:
            ev = [r for r in ev if not str(r.get("kind", "")).endswith(".coverage")]
        if ev:
            return _json({"source": "evidence", "rows": ev})
        rows = list_events(store, name, None, t0, t1, None, limit)
        K.name_rows(rows)
        return _json({"source": "events", "rows": rows})

    @app.get("/api/sites/{name}/indicators")
    def indicators(name: Annotated[str, PathParam(pattern=NAME)]) -> Response:
        _site(name)
        series = _series(name)
        assessment = _safe(lambda: ASM.latest_assessments(store, name), [])
        return _json({"available": bool(series), "series": charts.plan(series, assessment)})

    @app.get("/api/sites/{name}/assessment")
    def assessment(name: Annotated[str, PathParam(pattern=NAME)]) -> Response:
        _site(name)
        return _json(_safe(lambda: ASM.latest_assessments(store, name), []))

    @app.get("/api/subjects/{ident}")
    def subject(ident: Annotated[str, PathParam(pattern=IDENT)]) -> Response:
        who = POS.subject_identity(store, ident)
        who["events"] = list_events(store, subject=ident.lower() if not ident.isdigit() else ident, limit=2000)
        return _json(who)

    @app.get("/api/scenes")
    def scenes(site: Annotated[str | None, Query(pattern=NAME)] = None) -> Response:
        out = SC.scene_summaries(store, site)
        for sc in out:
            sc["counts"] = DET.class_counts(store, sc["scene_id"])
            sc["has_chip"] = _chip_path(sc["scene_id"]) is not None or _scene_file(sc["scene_id"]) is not None
        return _json(out)

    @app.get("/api/scenes/{scene_id}/chip")
    def chip(scene_id: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,64}$")]) -> Response:
        """The scene with its detections drawn: a PNG chip written to ``<workspace>/chips/`` by
        `sitewatch chips`, else a JPEG drawn from the scene's image file (kept in memory, never
        written: a read does not write)."""
        p = _chip_path(scene_id)
        if p is not None:
            return FileResponse(p, media_type="image/png")
        png = _drawn_chip(scene_id)
        if png is None:
            raise HTTPException(404, "no chip for this scene: its image file is not readable from this machine")
        return Response(png, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    def _scene_file(scene_id: str) -> dict[str, Any] | None:
        from sitewatch.store import scenes as SC

        sc = _safe(lambda: SC.get_scene(store, scene_id), None)
        if sc is None or sc.get("scene_id") != scene_id or not Path(str(sc.get("path") or "")).is_file():
            return None
        result: dict[str, Any] = sc
        return result

    chip_cache: dict[str, bytes] = {}

    def _drawn_chip(scene_id: str) -> bytes | None:
        import tempfile

        from sitewatch.imagery import chips as CH
        from sitewatch.store import detections as DET

        if scene_id in chip_cache:
            return chip_cache[scene_id]
        sc = _scene_file(scene_id)
        if sc is None:
            return None
        with tempfile.TemporaryDirectory(prefix="sitewatch-chip-") as tmp:
            try:
                png = CH.scene_chip(sc, DET.detections(store, scene_id), Path(tmp) / "chip.png", CHIP_PX).read_bytes()
            except (SitewatchError, OSError, ValueError):
                return None
        png = _as_jpeg(png)
        if len(chip_cache) >= CHIP_CACHE:
            chip_cache.pop(next(iter(chip_cache)))
        chip_cache[scene_id] = png
        return png

    def _chip_path(scene_id: str) -> Path | None:
        base = (ws.folder / "chips").resolve()
        for cand in (base / f"{scene_id}.png", base / scene_id / "annotated.png"):
            p = cand.resolve()
            if p.is_file() and p.is_relative_to(base):
                return p
        return None

    @app.get("/api/query/two-box")
    def two_box(a: Annotated[str, Query(max_length=100)], b: Annotated[str, Query(max_length=100)],
                min_gap_s: Annotated[float, Query(ge=0, le=30 * 86400)] = 3600,
                max_gap_s: Annotated[float, Query(ge=1, le=30 * 86400)] = 8 * 3600) -> Response:
        try:
            import importlib

            AQ = importlib.import_module("sitewatch.analytics.air.queries")
        except ImportError:
            raise HTTPException(501, "the two-box query is not available in this build") from None
        fn = getattr(AQ, "two_box", None)
        if fn is None:
            raise HTTPException(501, "the two-box query is not available in this build")
        try:
            area_a, area_b = AQ.parse_area(a, ws.sites, "a"), AQ.parse_area(b, ws.sites, "b")
            return _json(fn(store, area_a, area_b, min_gap_s, max_gap_s))
        except SitewatchError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get("/api/basemap")
    def basemap(lat: Annotated[float, Query(ge=-89, le=89)], lon: Annotated[float, Query(ge=-179, le=179)],
                span_deg: Annotated[float, Query(gt=0, le=10)] = 1.5) -> Response:
        from sitewatch.basemap import land_geojson

        box = (max(-180.0, lon - span_deg), max(-90.0, lat - span_deg), min(180.0, lon + span_deg),
               min(90.0, lat + span_deg))
        try:
            return _json(land_geojson(box))
        except SitewatchError as exc:  # e.g. a span too small to make a box at that longitude
            raise HTTPException(422, str(exc)) from None

    @app.get("/api/alerts")
    def alerts(limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> Response:
        from sitewatch.store.alerts import list_alerts

        return _json(list_alerts(store, limit))

    @app.get("/api/watch/sources")
    def watch_sources() -> Response:
        from sitewatch.alerts.watch_status import overview

        return _json(overview(ws.folder, ws.config, store))

    @app.post("/api/observations", status_code=201)
    def post_observation(obs: Annotated[ObservationIn, Body()], request: Request) -> Response:
        _site(obs.site)
        import hashlib

        import pyarrow as pa

        from sitewatch import schema

        t = obs.t_utc if obs.t_utc.tzinfo else obs.t_utc.replace(tzinfo=UTC)
        row = {"site": obs.site, "t_utc": t.astimezone(UTC), "text": obs.text, "count": obs.count,
               "class": obs.object_class, "zone": obs.zone, "source": obs.source or "dashboard", "url": obs.url,
               "confidence": obs.confidence, "simulated": False}
        row["obs_id"] = hashlib.sha1(json.dumps(row, default=str, sort_keys=True).encode()).hexdigest()[:20]
        n = store.insert("observations", pa.Table.from_pylist([row], schema=pa.schema(
            [schema.OBSERVATIONS.arrow_schema().field(k) for k in row])))
        return _json({"obs_id": row["obs_id"], "created": bool(n)}, 201 if n else 200)

    @app.get("/api/stream")
    async def stream(request: Request) -> StreamingResponse:
        """Server-sent events: new positions (``position``) and events (``event``) as they are stored."""

        async def gen() -> AsyncIterator[bytes]:
            hw = await run_in_threadpool(POS.high_water, store)
            yield b": connected\n\n"
            while not await request.is_disconnected():
                await asyncio.sleep(live_poll_s)
                pos = await run_in_threadpool(POS.positions_after_row, store, hw["row"], 5000)
                if pos:
                    hw["row"] = max(p.pop("row") for p in pos)
                    yield _sse("positions", pos)
                evs = await run_in_threadpool(EV.events_since, store, hw["t_computed"], 1000)
                if evs:
                    hw["t_computed"] = max(e["t_computed_utc"] for e in evs)
                    yield _sse("events", evs)
                elif hw["t_computed"] is None:
                    hw = {**hw, "t_computed": (await run_in_threadpool(POS.high_water, store))["t_computed"]}
                yield b": keep-alive\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    def _site(name: str) -> Any:
        s = ws.sites.get(name)
        if s is None:
            raise HTTPException(404, f"no site named {name!r}")
        return s

    return app


def _as_jpeg(png: bytes, quality: int = 85) -> bytes:
    """A chip re-encoded as JPEG (a 1024 px scene chip: ~1.5 MB as PNG, ~0.2 MB as JPEG)."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality]) if img is not None else (False, None)
    return bytes(buf) if ok and buf is not None else png


def _sse(name: str, data: Any) -> bytes:
    def default(v: Any) -> Any:
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else str(v)

    return f"event: {name}\ndata: {json.dumps(data, default=default)}\n\n".encode()


def _bbox(site: Any, margin_deg: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = site.bbox()
    return (x0 - margin_deg, y0 - margin_deg, x1 + margin_deg, y1 + margin_deg)


def _tracks_geojson(pts: list[dict[str, Any]]) -> dict[str, Any]:
    feats: list[dict[str, Any]] = []
    cur: list[dict[str, Any]] = []

    def flush() -> None:
        if not cur:
            return
        p0 = cur[0]
        feats.append({"type": "Feature",
                      "properties": {"source": p0["source"], "id": p0["id"],
                                     "times": [p["t_utc"] for p in cur], "alt_ft": [p["alt_ft"] for p in cur],
                                     "file_ids": sorted({p["file_id"] for p in cur if p["file_id"] is not None})},
                      "geometry": {"type": "LineString", "coordinates": [[p["lon"], p["lat"]] for p in cur]}})

    for p in pts:
        if cur and (p["id"] != cur[-1]["id"] or p["source"] != cur[-1]["source"]):
            flush()
            cur = []
        cur.append(p)
    flush()
    return {"type": "FeatureCollection", "features": feats}


def _safe(fn: Callable[[], Any], default: Any) -> Any:
    # optional tables/modules (assessments, indicators) may not exist in older workspaces
    try:
        return fn()
    except Exception:  # pragma: no cover - shown as "not available" in the UI
        return default

