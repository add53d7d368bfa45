"""Scene readers: GeoTIFF/COG, plain JPEG/PNG, and local STAC items → ``scenes`` rows.

Each image becomes one ``scenes`` row; the pixels stay where the user keeps them (the row
records the absolute path and the image's sha256; nothing is copied). Options come in
``ReadOptions.extra``:

``site`` (required), ``time`` (ISO 8601; wins over the file's tags), ``gsd_m`` (wins over
the georeference), ``provider``, ``crs`` (for a world file without one; default
EPSG:4326) and ``corners`` (four (lon, lat) pairs TL, TR, BR, BL for a plain image).

Sidecar files (world files, ``.prj``, ``.aux.xml``, overviews …) are recognised and
skipped, so a provider's delivery folder can be ingested as it is.

Policy: an image without an acquisition time (no tag, no ``time``) or without a site is
not a scene sitewatch can use: the file fails with a message saying which option to
pass, and the ingest goes on with the next file. In a STAC ItemCollection each item is a
record: an item that cannot be used (no datetime, remote or missing asset) is
quarantined with its index and the others are kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from shapely.geometry import shape

from sitewatch import schema
from sitewatch.errors import FormatError, InputError
from sitewatch.imagery import scenes as S
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_IMAGE_MEDIA = ("image/tiff", "image/jp2", "image/png", "image/jpeg", "image/vnd.stac.geotiff")
_ASSET_KEYS = ("visual", "image", "data", "analytic", "rgb", "pan")


def _opt_time(opts: ReadOptions) -> datetime | None:
    raw = opts.extra.get("time")
    if raw is None or isinstance(raw, datetime):
        return raw
    t = S.parse_tag_time(str(raw))
    if t is None:
        raise InputError(f"--time {raw!r} is not ISO 8601 (e.g. 2024-12-13T08:15Z)")
    return t


def _require_site(opts: ReadOptions, name: str) -> str:
    site = opts.extra.get("site")
    if not site:
        raise InputError("which site is this scene of? pass --site NAME", path=name)
    return str(site)


def _local_path(src: InputFile) -> str:
    p = Path(src.name)
    return str(p.resolve()) if p.exists() else src.name


def _scene_batch(rows: list[dict[str, Any]], offsets: list[int], rejects: list[Reject]) -> Batch:
    if rows:
        t = pa.Table.from_pylist(rows)
        t = t.append_column("rec_offset", pa.array(offsets, pa.int64()))
        t = schema.conform("scenes", t)
        t = t.drop_columns(["file_id"])
    else:
        t = schema.SCENES.arrow_schema().empty_table().drop_columns(["file_id"])
    return Batch("scenes", t, rejects)


def image_row(
    path: str, sha256: str, opts: ReadOptions, fmt: str, *, t_default: datetime | None = None,
    gsd_default: float | None = None, provider_default: str | None = None,
    extra_meta: dict[str, Any] | None = None, cloud_hint: bool | None = None,
    footprint_default: Any = None,
) -> dict[str, Any]:
    """The ``scenes`` row for the image at ``path`` (reads its header and one overview)."""
    site = _require_site(opts, path)
    corners = opts.extra.get("corners")
    info = S.describe(path, crs=opts.extra.get("crs"),
                      corners=[tuple(c) for c in corners] if corners else None)
    t_opt = _opt_time(opts)
    t = t_opt or info.t_utc or t_default
    if t is None:
        raise InputError("no acquisition time in the image's tags; pass --time ISO (e.g. --time 2024-12-13T08:15Z)",
                         path=path)
    gsd_opt = opts.extra.get("gsd_m")
    gsd = float(gsd_opt) if gsd_opt is not None else (info.gsd_m or gsd_default)
    if gsd is not None and not 0.01 <= gsd <= 1000:
        raise InputError(f"ground sample distance {gsd} m is implausible; pass --gsd-m", path=path)
    overview, _ = S.read_overview(path)
    flag, cloud = S.cloud_haze(overview)
    if cloud_hint:
        flag = True
    meta: dict[str, Any] = {
        "format": fmt, "bands": info.bands, "dtype": info.dtype,
        "time_source": "option" if t_opt else (info.time_source or ("stac" if t_default else None)),
        "gsd_source": "option" if gsd_opt is not None else ("georeference" if info.gsd_m else
                                                            ("stac" if gsd_default else None)),
        "georeferenced": info.georeferenced, "cloud": cloud,
        "tags": {k: v[:200] for k, v in list(info.tags.items())[:40]},
        **(extra_meta or {}),
    }
    tags = {k.upper(): v for k, v in info.tags.items()}
    return S.scene_row(
        scene_id=sha256[:16], site=site, path=path, sha256=sha256, info=info, t_utc=t,
        provider=opts.extra.get("provider") or provider_default or tags.get("PROVIDER"), gsd=gsd,
        cloud_flag=flag, meta=meta,
        footprint=info.footprint if info.footprint is not None else footprint_default,
        # sitewatch's own simulator marks what it renders, so evidence can never pass it off as real
        simulated=tags.get("SITEWATCH_SIMULATED", "").lower() == "true",
    )


class _ImageReader:
    kind = "imagery"
    name = "image"

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        row = image_row(_local_path(src), src.sha256(), opts, self.name)
        yield _scene_batch([row], [0], [])


@register
class GeoTiffReader(_ImageReader):
    """GeoTIFF / Cloud-Optimised GeoTIFF (also plain TIFF with --time/--gsd-m)."""

    name = "geotiff"

    def sniff(self, head: bytes, name: str) -> float:
        return 0.9 if head[:4] in _TIFF_MAGIC else 0.0


@register
class PlainImageReader(_ImageReader):
    """JPEG / PNG: screenshots, press images; georeferenced by a world file or corners."""

    name = "image"

    def sniff(self, head: bytes, name: str) -> float:
        if head[:3] == b"\xff\xd8\xff" or head[:8] == b"\x89PNG\r\n\x1a\n":
            return 0.8
        return 0.0


_SIDECARS = (".jgw", ".pgw", ".tfw", ".wld", ".prj", ".aux.xml", ".ovr", ".msk", ".imd", ".rpb", ".xml")


@register
class SidecarReader:
    """World files, projections, overviews, masks and metadata beside an image: GDAL reads
    them with the image, so a folder can be ingested as it is. They yield no scene and are
    logged (format ``sidecar``) so that the summary accounts for every file."""

    kind = "imagery"
    name = "sidecar"
    selectable = False  # chosen by its sniffer only, never with --format

    def sniff(self, head: bytes, name: str) -> float:
        return 0.99 if name.lower().endswith(_SIDECARS) else 0.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        yield Batch("scenes", _scene_batch([], [], []).rows, counters={"sidecar_files": 1})


@register
class StacItemReader:
    """A local STAC Item (or ItemCollection) whose image asset is a local file."""

    kind = "imagery"
    name = "stac"

    def sniff(self, head: bytes, name: str) -> float:
        text = head.lstrip()[:1]
        if text == b"{" and b"stac_version" in head and b"Feature" in head:
            return 0.95
        return 0.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        with src.open() as f:
            try:
                doc = json.loads(f.read().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                raise FormatError(f"not valid JSON ({exc})", path=src.name) from None
        if not isinstance(doc, dict):
            raise FormatError("not a STAC Item or ItemCollection", path=src.name)
        items = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
        if not isinstance(items, list):
            raise FormatError("ItemCollection without a 'features' list", path=src.name)
        base = Path(src.name).parent if Path(src.name).exists() else Path.cwd()
        rows: list[dict[str, Any]] = []
        offsets: list[int] = []
        rejects: list[Reject] = []
        for i, item in enumerate(items):
            try:
                rows.append(self._item_row(item, base, opts))
                offsets.append(i)
            except InputError as exc:
                if len(items) == 1:
                    raise InputError(str(exc.args[0]), path=src.name) from None
                rejects.append(Reject(i, json.dumps(item)[:2000], str(exc.args[0]), "item"))
        yield _scene_batch(rows, offsets, rejects)

    def _item_row(self, item: Any, base: Path, opts: ReadOptions) -> dict[str, Any]:
        if not isinstance(item, dict) or item.get("type") != "Feature":
            raise InputError("not a STAC Item (type is not 'Feature')")
        props = item.get("properties") or {}
        raw_t = props.get("datetime") or props.get("start_datetime")
        t = S.parse_tag_time(str(raw_t)) if raw_t else None
        if t is None and opts.extra.get("time") is None:
            raise InputError(f"item {item.get('id')!r} has no usable datetime; pass --time")
        href = _image_href(item)
        if href.startswith(("http://", "https://", "s3://", "gs://")):
            raise InputError(f"item {item.get('id')!r}: asset {href} is remote; download it, "
                             "point the asset's href at the local file, and ingest again")
        path = Path(href.removeprefix("file://"))
        path = path if path.is_absolute() else (base / path)
        if not path.is_file():
            raise InputError(f"item {item.get('id')!r}: asset file {path} not found")
        providers = props.get("providers") or item.get("providers") or []
        provider = (providers[0].get("name") if providers and isinstance(providers[0], dict) else None) \
            or props.get("constellation") or props.get("platform")
        cc = props.get("eo:cloud_cover")
        footprint = None
        if item.get("geometry"):
            try:
                footprint = shape(item["geometry"])
            except Exception as exc:  # shapely raises several types
                raise InputError(f"item {item.get('id')!r}: bad geometry ({exc})") from None
        gsd = _fnum(props.get("gsd"))
        return image_row(
            str(path.resolve()), _sha256(path), opts, "stac", t_default=t,
            gsd_default=gsd, provider_default=provider,
            extra_meta={"stac_id": item.get("id"), "stac": {k: v for k, v in props.items()
                                                               if _small(v)}},
            cloud_hint=(_fnum(cc) or 0.0) > 100 * S.CLOUD_FRAC, footprint_default=footprint,
        )


def _fnum(v: Any) -> float | None:
    """A STAC number, or None when it is missing or not a number (a list, text, 10**400)."""
    try:
        return float(v) if v is not None and not isinstance(v, bool) else None
    except (TypeError, ValueError, OverflowError):
        return None


def _small(v: object) -> bool:
    return isinstance(v, str | int | float | bool) and len(str(v)) < 300


def _image_href(item: dict[str, Any]) -> str:
    assets = item.get("assets") or {}
    if not isinstance(assets, dict) or not assets:
        raise InputError(f"item {item.get('id')!r} has no assets")
    for key in _ASSET_KEYS:
        a = assets.get(key)
        if isinstance(a, dict) and a.get("href"):
            return str(a["href"])
    for a in assets.values():
        if isinstance(a, dict) and a.get("href") and any(m in str(a.get("type", "")) for m in _IMAGE_MEDIA):
            return str(a["href"])
    raise InputError(f"item {item.get('id')!r}: no image asset (looked for {', '.join(_ASSET_KEYS)} "
                     "or an image media type)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
