"""Imagery fetching shared by the imagery sources: catalogue → candidates → window → scene.

A source (one module per catalogue/preset, registered with kind ``imagery``) answers
:meth:`ImagerySource.find` with :class:`Candidate` items for a site's box and time window
(items that lack what a scene needs are :class:`Rejected`: quarantined, never guessed), and
:meth:`ImagerySource.access` with the href to read and the GDAL settings that reach it.
:func:`fetch` does the rest for every source alike:

1. the site's window of each candidate's asset is read over HTTP range requests
   (:mod:`._cog`) into ``WORKSPACE/imagery/<source>/<site>/<item>.<asset>.tif`` (acquisition
   time, item, cloud cover, licence in its tags); a window already on disk is not read again;
2. it is ingested as an ordinary GeoTIFF scene (``sources.imagery`` → ``scenes``: provider,
   time, GSD from the georeference, sha256) with its provenance (asset URL, item, licence,
   attribution, sha256) in its ``ingest_log`` row; rejected items are one more input whose
   ``quarantine`` rows name the item's index and what it lacks (once: the same bad items
   fetched again are skipped);
3. the scenes of the site are co-registered as ``ingest imagery`` does;
4. each scene says what the pipeline's GSD gate (:mod:`sitewatch.detect.gate`, the one
   :mod:`sitewatch.fusion.evidence` applies) lets it count (:func:`gate`): 10 m shows ships and
   aircraft ≥ 40 m, not vehicles; the built-in detector's measured reach stops short of it.

Unknown fields of an item are ignored; missing ones (id, datetime, geometry and bbox, the
asset) quarantine the item.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from sitewatch.acquire import SourceInfo
from sitewatch.acquire._cog import NeedsAccess, OutsideScene, read_window, scrub
from sitewatch.acquire._keys import Secret, secret
from sitewatch.acquire.http import FetchError, HttpOptions, NotFoundOnServer, safe_url
from sitewatch.errors import FormatError, SitewatchError
from sitewatch.sites import Site

log = logging.getLogger(__name__)

IMAGE_MEDIA = ("image/tiff", "image/vnd.stac.geotiff", "image/jp2")
RAW_CHARS = 2000
DEFAULT_LIMIT = 50


@dataclass
class Candidate:
    """One catalogue item whose asset may show the site."""

    item_id: str
    t_utc: datetime
    asset: str
    href: str
    collection: str | None = None
    cloud: float | None = None  # percent, of the whole item
    footprint: BaseGeometry | None = None
    platform: str | None = None
    alternates: dict[str, str] = field(default_factory=dict)  # name → href (e.g. CDSE's https)
    extra: dict[str, Any] = field(default_factory=dict)  # what a source needs later (Planet's links)


@dataclass(frozen=True)
class Rejected:
    index: int
    item_id: str | None
    raw: str
    reason: str


@dataclass
class Found:
    """A search's outcome: usable candidates, rejected items, and how the search was asked."""

    candidates: list[Candidate] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)
    how: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)  # reason → items left out (cloudier, elsewhere)

    def drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1

    def offer(self, got: Candidate | Rejected, t0: datetime, t1: datetime, bbox: tuple[float, float, float, float],
              max_cloud: float | None) -> None:
        """One parsed item: a reject is kept as such; a candidate is kept when it lies in the
        time window, over the site and no cloudier than asked (every source's own checks)."""
        if isinstance(got, Rejected):
            self.rejects.append(got)
        elif not t0 <= got.t_utc < t1:
            self.drop("outside the time window")
        elif keep(self, got, bbox, max_cloud):
            self.candidates.append(got)


class Pending(FetchError):
    """The asset is being prepared by the provider (Planet activation): fetch again later."""


# -- the GSD gate ----------------------------------------------------------------------------------
def gate(gsd_m: float | None) -> dict[str, Any]:
    """What a scene of ``gsd_m`` can count (:func:`sitewatch.detect.gate.scene_gate`: what the
    scene shows by the 4 px rule, what the built-in detector counts of it, and a sentence)."""
    from sitewatch.detect.gate import scene_gate

    return scene_gate(gsd_m)


# -- items -----------------------------------------------------------------------------------------
def parse_item(item: Any, index: int, wanted: tuple[str, ...], media_fallback: bool = True) -> Candidate | Rejected:
    """A STAC item → a :class:`Candidate`, or :class:`Rejected` naming what it lacks."""
    raw = raw_text(item)
    if not isinstance(item, dict):
        return Rejected(index, None, raw, "not a JSON object")
    iid = item.get("id")
    if not isinstance(iid, str) or not iid.strip():
        return Rejected(index, None, raw, "missing id")
    props = item.get("properties")
    if not isinstance(props, dict):
        return Rejected(index, iid, raw, "missing properties")
    from sitewatch.imagery.scenes import parse_tag_time

    t_raw = props.get("datetime") or props.get("start_datetime")
    t = parse_tag_time(str(t_raw)) if isinstance(t_raw, str) else None
    if t is None:
        return Rejected(index, iid, raw, "missing properties.datetime (and start_datetime)")
    fp = item_footprint(item)
    if fp is None:
        return Rejected(index, iid, raw, "missing geometry and bbox")
    assets = item.get("assets")
    if not isinstance(assets, dict) or not assets:
        return Rejected(index, iid, raw, "missing assets")
    key = next((k for k in wanted if isinstance(assets.get(k), dict) and isinstance(assets[k].get("href"), str)),
               None)
    if key is None and media_fallback:
        key = next((k for k, a in assets.items() if isinstance(a, dict) and isinstance(a.get("href"), str)
                    and any(m in str(a.get("type", "")) for m in IMAGE_MEDIA) and "data" in (a.get("roles") or [])),
                   None)
    if key is None:
        return Rejected(index, iid, raw, f"no asset {' / '.join(wanted)} (has: {', '.join(sorted(assets)[:12])})")
    a = assets[key]
    alts = {str(n): str(v["href"]) for n, v in (a.get("alternate") or {}).items()
            if isinstance(v, dict) and isinstance(v.get("href"), str)} if isinstance(a.get("alternate"), dict) else {}
    return Candidate(iid, t, key, str(a["href"]), collection=_str(item.get("collection")),
                     cloud=_num(props.get("eo:cloud_cover")), footprint=fp,
                     platform=_str(props.get("platform")) or _str(props.get("constellation")), alternates=alts,
                     extra={"requester_pays": bool(props.get("storage:requester_pays"))})


def raw_text(item: Any) -> str:
    try:
        return json.dumps(item, sort_keys=True, default=str)[:RAW_CHARS]
    except (TypeError, ValueError, RecursionError):
        return repr(item)[:RAW_CHARS]


def item_footprint(item: dict[str, Any]) -> BaseGeometry | None:
    g = item.get("geometry")
    if isinstance(g, dict):
        with contextlib.suppress(Exception):  # shapely raises several types for bad geometry
            geom = shape(g)
            if not geom.is_empty:
                return geom
    b = item.get("bbox")
    if isinstance(b, list) and len(b) in (4, 6) and all(isinstance(v, int | float) for v in b):
        return box(b[0], b[1], b[3], b[4]) if len(b) == 6 else box(*b)
    return None


def _num(v: Any) -> float | None:
    try:
        return float(v) if v is not None and not isinstance(v, bool) else None
    except (TypeError, ValueError, OverflowError):
        return None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def keep(found: Found, c: Candidate, bbox: tuple[float, float, float, float], max_cloud: float | None) -> bool:
    """The checks every source makes on its own: over the site, no cloudier than asked."""
    if c.footprint is not None and not c.footprint.intersects(box(*bbox)):
        found.drop("footprint misses the site")
        return False
    if max_cloud is not None and c.cloud is not None and c.cloud > max_cloud:
        found.drop(f"cloud cover over {max_cloud:g} %")
        return False
    return True


# -- sources ---------------------------------------------------------------------------------------
class ImagerySource:
    """Base of the imagery sources (see the module docstring)."""

    info: SourceInfo
    stac_url: str | None = None
    collection: str | None = None
    assets: tuple[str, ...] = ("visual",)
    gsd_hint_m: float | None = None  # the sensor's GSD, for what the output says before reading

    def __init__(self, stac_url: str | None = None, collection: str | None = None,
                 assets: tuple[str, ...] | None = None, http: HttpOptions | None = None,
                 settings: Mapping[str, Any] | None = None) -> None:
        self.settings: Mapping[str, Any] = settings or {}
        if stac_url:
            self.stac_url = stac_url.rstrip("/")
        if collection:
            self.collection = collection
        if assets:
            self.assets = assets
        self.http = http or HttpOptions()

    def configured(self, stac_url: str | None = None, collection: str | None = None, asset: str | None = None,
                   http: HttpOptions | None = None) -> ImagerySource:
        return type(self)(stac_url or self.stac_url, collection or self.collection,
                          (asset,) if asset else self.assets, http or self.http, self.settings)

    def with_settings(self, settings: Mapping[str, Any]) -> ImagerySource:
        """This source reading its keys through the workspace's ``[settings.keys]`` references."""
        return type(self)(self.stac_url, self.collection, self.assets, self.http, settings)

    def key(self, name: str, env: str) -> Secret | None:
        """Key ``name`` from the environment (``[settings.keys] name = "env:VAR"``, else ``$env``)."""
        return secret(self.settings, name, env)

    # what a source implements
    def find(self, bbox: tuple[float, float, float, float], t0: datetime, t1: datetime, max_cloud: float | None,
             limit: int) -> Found:  # pragma: no cover - subclasses
        raise NotImplementedError

    def access(self, c: Candidate) -> tuple[str, dict[str, str]]:
        """The href to read and the GDAL settings (credentials) it needs; :class:`NeedsAccess` if none."""
        if c.href.startswith("s3://"):
            raise NeedsAccess(f"{safe_url(c.href)} is on S3 and this source has no S3 access configured")
        return c.href, {}

    def provider(self, c: Candidate) -> str:
        return f"{c.platform} via {self.info.title}" if c.platform else self.info.title

    def licence(self, c: Candidate) -> dict[str, str]:
        """Licence and attribution for ``c`` (the year filled in where the terms ask for it)."""
        return {"licence": self.info.licence, "licence_url": self.info.licence_url,
                "attribution": self.info.attribution.replace("{year}", str(c.t_utc.year))}


# -- one fetch -------------------------------------------------------------------------------------
@dataclass
class SceneOut:
    """What happened to one candidate (one line of the command's output)."""

    site: str
    source: str
    item: str
    t_utc: datetime
    status: str  # new | known | skipped | pending | failed
    asset: str
    collection: str | None = None
    cloud_cover: float | None = None
    provider: str | None = None
    licence: str | None = None
    scene_id: str | None = None
    gsd_m: float | None = None
    window_px: list[int] | None = None
    decimation: int | None = None
    reason: str | None = None
    gate: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "gate" and v is not None}
        out.update(self.gate)
        return out

    def sentence(self) -> str:
        when = self.t_utc.strftime("%Y-%m-%d %H:%MZ")
        head = f"{self.site} {when} {self.item} ({self.asset})"
        if self.status in ("skipped", "failed", "pending"):
            return f"{head}: {self.status}: {self.reason}"
        cloud = f", cloud {self.cloud_cover:.0f} % of the item" if self.cloud_cover is not None else ""
        size = f"{self.window_px[0]}×{self.window_px[1]} px" if self.window_px else "window"
        return f"{head}: {self.status}, {size}{cloud}; {self.gate.get('says', '')}"


@dataclass
class FetchResult:
    source: str
    site: str
    t_from: datetime
    t_to: datetime
    scenes: list[SceneOut] = field(default_factory=list)
    quarantined: int = 0
    search: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[SceneOut]:
        return [s for s in self.scenes if s.status == "failed"]

    @property
    def new(self) -> list[SceneOut]:
        return [s for s in self.scenes if s.status == "new"]

    def summary(self) -> dict[str, Any]:
        count: dict[str, int] = {}
        for s in self.scenes:
            count[s.status] = count.get(s.status, 0) + 1
        return {"summary": True, "source": self.source, "site": self.site, "from": self.t_from, "to": self.t_to,
                "items": len(self.scenes), **count, "quarantined": self.quarantined, "search": self.search}


def site_bbox(site: Site, margin_m: float = 0.0) -> tuple[float, float, float, float]:
    """The site's watch area as a lon/lat box, widened by ``margin_m``."""
    import math

    x0, y0, x1, y1 = site.area.bounds
    dlat = margin_m / 111_320.0
    dlon = margin_m / (111_320.0 * max(0.05, math.cos(math.radians(site.lat))))
    return (x0 - dlon, y0 - dlat, x1 + dlon, y1 + dlat)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:120]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fetch(ws: Any, source: ImagerySource, site: Site, t0: datetime, t1: datetime, *, max_cloud: float | None = None,
          limit: int = DEFAULT_LIMIT, folder: Path | None = None, max_pixels: int = 64_000_000,
          margin_m: float = 0.0, coreg: bool = True,
          on_scene: Callable[[SceneOut], None] | None = None) -> FetchResult:
    """Search ``source`` for ``site`` in [t0, t1] and register each new window (see the module)."""
    from sitewatch.store import scenes as SC

    name = source.info.name
    source = source.with_settings(ws.settings)
    bbox = site_bbox(site, margin_m)
    found = source.find(bbox, t0, t1, max_cloud, limit)
    res = FetchResult(name, site.name, t0, t1, search={**found.how, "dropped": found.dropped} if found.dropped
                      else dict(found.how))
    base = (folder or ws.folder / "imagery" / name) / _safe_name(site.name)
    known = {s["scene_id"] for s in SC.list_scenes(ws.store, site.name)}
    for c in found.candidates:
        out = _one(ws, source, site, c, bbox, base, known, max_pixels)
        res.scenes.append(out)
        if on_scene:
            on_scene(out)
    if found.rejects:
        res.quarantined = _quarantine(ws, source, site, found.rejects)
    if coreg and res.new:
        _coregister(ws, site.name)
    return res


def _one(ws: Any, source: ImagerySource, site: Site, c: Candidate, bbox: tuple[float, float, float, float],
         base: Path, known: set[str], max_pixels: int) -> SceneOut:
    lic = source.licence(c)
    out = SceneOut(site.name, source.info.name, c.item_id, c.t_utc, "new", c.asset, collection=c.collection,
                   cloud_cover=c.cloud, provider=source.provider(c), licence=lic["licence"])
    path = base / f"{_safe_name(c.item_id)}.{_safe_name(c.asset)}.tif"
    try:
        if not path.is_file():
            href, env = source.access(c)
            win = read_window(href, bbox, path, when=c.t_utc, http=source.http, env=env, max_pixels=max_pixels,
                              tags={"SITEWATCH_SOURCE": source.info.name, "SITEWATCH_ITEM": c.item_id,
                                    "SITEWATCH_ASSET": c.asset, "SITEWATCH_COLLECTION": c.collection or "",
                                    "SITEWATCH_CLOUD_COVER": "" if c.cloud is None else f"{c.cloud:g}",
                                    "SITEWATCH_LICENCE": lic["licence"], "PROVIDER": out.provider or ""})
            out.decimation = win.decimation
        else:
            href = c.href
        sha = _sha256(path)
        out.scene_id = sha[:16]
        if out.scene_id in known:
            out.status = "known"
        else:
            _ingest(ws, source, site, c, path, sha, href, out, lic)
            known.add(out.scene_id)
        _describe(out, path)
    except Pending as exc:
        out.status, out.reason = "pending", str(exc)
    except (OutsideScene, NeedsAccess) as exc:
        out.status, out.reason = "skipped", str(exc)
    except NotFoundOnServer as exc:
        out.status, out.reason = "failed", str(exc)
    except FormatError as exc:  # a window on disk GDAL cannot read (a damaged file): read it again next time
        path.unlink(missing_ok=True)
        out.status, out.reason = "failed", scrub(str(exc))
    except SitewatchError as exc:
        out.status, out.reason = "failed", scrub(str(exc))
    return out


def _describe(out: SceneOut, path: Path) -> None:
    from sitewatch.imagery.scenes import describe

    info = describe(path)
    out.gsd_m = round(info.gsd_m, 3) if info.gsd_m else None
    out.window_px = [info.width_px, info.height_px]
    out.gate = gate(info.gsd_m)


def _writing(ws: Any) -> Any:
    return getattr(ws.store, "gate", None) or contextlib.nullcontext()


def _ingest(ws: Any, source: ImagerySource, site: Site, c: Candidate, path: Path, sha: str, href: str,
            out: SceneOut, lic: Mapping[str, str]) -> None:
    from sitewatch.sources.base import ReadOptions
    from sitewatch.store.ingest import ingest_paths

    prov = {**source.info.as_json(), **lic, "provider": out.provider, "site": site.name,
            "catalogue": safe_url(source.stac_url or ""), "collection": c.collection, "item": c.item_id,
            "asset": c.asset, "acquired": c.t_utc.isoformat(), "cloud_cover": c.cloud,
            "files": [{"url": safe_url(href), "name": path.name, "size_bytes": path.stat().st_size, "sha256": sha}]}
    opts = ReadOptions(extra={"site": site.name, "provider": out.provider, "provenance": prov})
    with _writing(ws):
        summary = ingest_paths(ws.store, "imagery", [str(path)], "geotiff", opts)
    r = summary.results[0] if summary.results else None
    if r is not None and r.error:
        path.unlink(missing_ok=True)  # our own cache: a window that does not ingest is read again next time
        raise FetchError(f"{path.name}: {r.error}; the window will be read again")
    out.status = "new" if r is not None and r.accepted else "known"


def _quarantine(ws: Any, source: ImagerySource, site: Site, rejects: Iterable[Rejected]) -> int:
    """Rejected items as one input with a quarantine row each (skipped when the same ones come again)."""
    from sitewatch import schema
    from sitewatch.sources.base import Batch, ReadOptions, Reject
    from sitewatch.store.ingest import ingest_stream

    rows = [Reject(r.index, r.raw, f"item {r.item_id or '?'}: {r.reason}", "item") for r in rejects]
    digest = hashlib.sha256("\n".join(f"{r.raw}\n{r.reason}" for r in rows).encode()).hexdigest()
    empty = schema.SCENES.arrow_schema().empty_table().drop_columns(["file_id"])
    prov = {**source.info.as_json(), "site": site.name, "catalogue": safe_url(source.stac_url or ""),
            "quarantined_items": len(rows), "files": []}
    opts = ReadOptions(extra={"site": site.name, "provenance": prov})
    with _writing(ws):
        r = ingest_stream(ws.store, "imagery", f"{source.info.name}:{site.name}:rejected-items", digest, "stac-items",
                          [Batch("scenes", empty, rows)], opts)
    return 0 if r.skipped else r.rejected


def _coregister(ws: Any, site: str) -> None:
    from sitewatch.imagery import coreg as C

    with _writing(ws):
        for r in C.align_site(ws.store, site):
            if r.status == "failed":
                log.warning("scene %s could not be co-registered: %s", r.scene_id, r.reason)


__all__ = ["Candidate", "FetchResult", "Found", "ImagerySource", "Pending", "Rejected", "SceneOut", "fetch",
           "gate", "keep", "parse_item", "site_bbox"]
