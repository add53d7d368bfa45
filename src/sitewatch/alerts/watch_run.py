"""One cycle of ``sitewatch watch run``: fetch every configured source, analyse, assess, alert.

For each ``[watch.sources]`` entry (:mod:`.watch_config`) that is due (its ``every``):

* **imagery** sources: a search of the last ``lookback`` for each of its sites; windows already
  on disk are not read again, scenes already stored are not stored again
  (:func:`sitewatch.acquire._imagery.fetch`);
* **daily archives** (ADS-B: adsb.lol; AIS: DMA, MarineCadastre): every whole UTC day of the
  last ``lookback`` not yet fetched, up to yesterday, once for all the entry's sites (one
  ~2 GB adsb.lol day serves them all). A day the archive has not published yet (≤ 2 days
  old) is *pending*, not an error;
* a source of another kind is fetched through its ``watch(ws, sites, t0, t1, **options)`` method
  when it has one (returning ``{"new": n, ...}``); otherwise the entry is an error saying so.

A failing source is recorded (:mod:`.watch_status`) and the others go on. Each source gets a
retry budget per cycle (``[watch] retry_budget``, 30 s; :class:`sitewatch.acquire.http.RetryBudget`):
on a dead network its requests give up within it (a host that cannot be reached is retried
twice, 3 s), an archive stops at the first day whose host cannot be reached, and the entry's
record says so (``last_error.unreachable``, ``down_since_utc``). When anything new
was stored: the detector runs on new scenes whose GSD lets it count something (``[watch]
detect``; skipped with a note when no model is installed), then every analysis, then each
site's assessment (a revision is issued when it changed). The watch rules are checked every
cycle and new alerts sent (``watch.yaml``, :mod:`.engine`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sitewatch.acquire.http import Unreachable
from sitewatch.alerts.watch_config import WatchPlan, WatchSource
from sitewatch.alerts.watch_status import Status
from sitewatch.errors import ConfigError, InputError, SitewatchError

log = logging.getLogger(__name__)

PUBLISH_DELAY_DAYS = 2  # adsb.lol publishes a day a day or two after it ends


@dataclass
class Outcome:
    """What fetching one entry did."""

    new: int = 0
    cover_from: datetime | None = None
    cover_to: datetime | None = None
    last_data: datetime | None = None
    pending: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    days: list[str] | None = None
    new_scenes: list[str] = field(default_factory=list)  # scene ids, for the detector
    unreachable: bool = False  # a host of the source could not be reached (the rest was skipped)


@dataclass
class Cycle:
    started: datetime
    finished: datetime | None = None
    fetched: list[dict[str, Any]] = field(default_factory=list)
    new: int = 0
    analyzed: bool = False
    assessed: list[str] = field(default_factory=list)
    detected: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"new": self.new, "analyzed": self.analyzed, "assessed": self.assessed, "detected": self.detected,
                "alerts": len(self.alerts), "errors": self.errors, "notes": self.notes[:10]}


def _writing(ws: Any) -> Any:
    return getattr(ws.store, "gate", None) or contextlib.nullcontext()


def run_cycle(ws: Any, plan: WatchPlan, now: datetime | None = None,
              say: Callable[[dict[str, Any]], None] | None = None, http: Any = None) -> Cycle:
    """Run one watch cycle on the open workspace ``ws`` (see the module docstring)."""
    now = now or datetime.now(UTC)
    cyc = Cycle(now)
    status = Status.load(ws.folder)
    if not plan.sources:
        cyc.notes.append("no [watch.sources] configured: nothing fetched (sitewatch watch source add …)")
    for entry in plan.sources:
        last = status.last_success(entry.name)
        if entry.every_s and last is not None and (now - last).total_seconds() < entry.every_s:
            continue
        try:
            sites = _sites(ws, entry)
        except SitewatchError as exc:
            status.attempt(entry.name, entry.source, entry.kind, list(entry.sites), now)
            status.failure(entry.name, now, str(exc))
            status.save()
            cyc.errors += 1
            _tell(say, cyc, {"entry": entry.name, "source": entry.source, "error": str(exc)})
            continue
        status.attempt(entry.name, entry.source, entry.kind, [s.name for s in sites], now)
        status.save()
        try:
            out = _fetch(ws, entry, sites, now, status, _budgeted(http, plan.retry_budget_s))
        except SitewatchError as exc:
            status.failure(entry.name, now, str(exc), unreachable=isinstance(exc, Unreachable))
            status.save()
            cyc.errors += 1
            _tell(say, cyc, {"entry": entry.name, "source": entry.source, "error": str(exc)})
            continue
        except Exception as exc:  # a fault in one source must not stop the watch of the others
            log.debug("watch source %s", entry.name, exc_info=True)
            status.failure(entry.name, now, f"internal error: {type(exc).__name__}: {exc}")
            status.save()
            cyc.errors += 1
            _tell(say, cyc, {"entry": entry.name, "source": entry.source, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if out.unreachable and not out.new and not out.days:  # nothing fetched: the source is down
            status.failure(entry.name, now, "; ".join(out.errors[:3]), unreachable=True)
            status.save()
            cyc.errors += 1
            _tell(say, cyc, {"entry": entry.name, "source": entry.source, "error": "; ".join(out.errors[:3]),
                             "notes": out.notes})
            continue
        status.success(entry.name, now, new=out.new, cover_from=out.cover_from, cover_to=out.cover_to,
                       last_data=out.last_data, notes=out.notes, errors=out.errors, days=out.days, pending=out.pending,
                       unreachable=out.unreachable)
        status.save()
        cyc.new += out.new
        cyc.errors += 1 if out.errors else 0
        if out.new_scenes and plan.detect:
            cyc.detected += _detect(ws, out.new_scenes, cyc)
        _tell(say, cyc, {"entry": entry.name, "source": entry.source, "sites": [s.name for s in sites],
                         "new": out.new, "pending": out.pending, "errors": out.errors, "notes": out.notes})
    if cyc.new or cyc.detected:
        ws.analyze()
        cyc.analyzed = True
        for name in ws.sites:
            try:
                ws.assess(name)
                cyc.assessed.append(name)
            except SitewatchError as exc:
                cyc.notes.append(f"assess {name}: {exc}")
    cyc.alerts = _alerts(ws)
    cyc.finished = datetime.now(UTC)
    status.cycle(cyc.started, cyc.finished, cyc.summary())
    status.save()
    return cyc


def _budgeted(http: Any, seconds: float) -> Any:
    """``http`` (default options when None) with a fresh retry budget of ``seconds`` for one source."""
    from sitewatch.acquire.http import HttpOptions

    return (http or HttpOptions()).with_budget(seconds)


def _tell(say: Callable[[dict[str, Any]], None] | None, cyc: Cycle, line: dict[str, Any]) -> None:
    cyc.fetched.append(line)
    if say:
        say(line)


def _sites(ws: Any, entry: WatchSource) -> list[Any]:
    sites = [ws.site(n) for n in entry.sites] if entry.sites else list(ws.sites.values())
    if not sites:
        raise ConfigError(f"watch source {entry.name}: the workspace watches no site "
                          "(sitewatch site add hmeimim --airport OSLK)")
    return sites


def _fetch(ws: Any, entry: WatchSource, sites: list[Any], now: datetime, status: Status, http: Any) -> Outcome:
    if entry.kind == "imagery":
        return _imagery(ws, entry, sites, now, http)
    if entry.kind in ("adsb", "ais"):
        return _archive(ws, entry, sites, now, status, http)
    from sitewatch.acquire import get

    src = get(entry.kind, entry.source)
    fn = getattr(src, "watch", None)
    if fn is None:
        raise ConfigError(f"source {entry.source} ({entry.kind}) cannot be watched yet: it has no watch() method")
    res = fn(ws, sites, now - timedelta(seconds=entry.lookback_s), now, **entry.options)
    return Outcome(new=int((res or {}).get("new", 0)), cover_from=now - timedelta(seconds=entry.lookback_s),
                   cover_to=now, notes=list((res or {}).get("notes", [])))


# -- imagery ---------------------------------------------------------------------------------------
def _imagery(ws: Any, entry: WatchSource, sites: list[Any], now: datetime, http: Any) -> Outcome:
    from sitewatch.acquire import get
    from sitewatch.acquire._imagery import fetch

    o = entry.options
    src = get("imagery", entry.source).configured(o.get("stac"), o.get("collection"), o.get("asset"), http)
    t0 = now - timedelta(seconds=entry.lookback_s)
    out = Outcome(cover_from=t0, cover_to=now)
    for site in sites:
        res = fetch(ws, src, site, t0, now, max_cloud=o.get("max_cloud"), limit=int(o.get("limit", 50)),
                    max_pixels=int(float(o.get("max_megapixels", 64)) * 1e6), margin_m=float(o.get("margin_m", 0)),
                    coreg=bool(o.get("coreg", True)))
        for s in res.scenes:
            if s.status in ("new", "known") and (out.last_data is None or s.t_utc > out.last_data):
                out.last_data = s.t_utc
            if s.status == "new":
                out.new += 1
                if s.scene_id and s.gate.get("countable"):
                    out.new_scenes.append(s.scene_id)
                out.notes.append(f"{site.name}: {s.item}: {s.gate.get('says')}")
            elif s.status == "pending":
                out.pending += 1
            elif s.status == "failed":
                out.errors.append(f"{site.name}: {s.item}: {s.reason}")
        if res.quarantined:
            out.notes.append(f"{site.name}: {res.quarantined} item(s) quarantined (missing fields)")
    return out


def _detect(ws: Any, scene_ids: list[str], cyc: Cycle) -> int:
    """Run the detector on ``scene_ids``; the number of scenes done (0 with a note when no model)."""
    from sitewatch.detect.scene import detect_scene
    from sitewatch.detect.yolo_obb import YoloObbDetector
    from sitewatch.models import registry
    from sitewatch.store import detections as DET
    from sitewatch.store import scenes as SC

    try:
        entry = registry.resolve(ws)
        detector = YoloObbDetector(entry.path)
    except SitewatchError as exc:
        cyc.notes.append(f"new scenes registered but not counted: {exc}")
        return 0
    done = 0
    for sid in scene_ids:
        try:
            s = SC.get_scene(ws.store, sid)
            rows, run = detect_scene(s, ws.site(s["site"]), detector, entry.label)
            with _writing(ws):
                DET.replace_detections(ws.store, s["scene_id"], rows, run)
            done += 1
        except SitewatchError as exc:
            cyc.notes.append(f"detect {sid}: {exc}")
    return done


# -- daily archives (ADS-B: adsb.lol; AIS: dma, marinecadastre) ------------------------------------
def _archive(ws: Any, entry: WatchSource, sites: list[Any], now: datetime, status: Status, http: Any) -> Outcome:
    """Every whole day of the lookback not fetched yet, up to yesterday, once for all the sites."""
    from sitewatch.acquire import get
    from sitewatch.acquire.http import local_path

    o = entry.options
    src = get(entry.kind, entry.source)
    src = src.configured(o.get("mirror"), http) if http is not None else src.configured(o.get("mirror"))
    keep = _adsb_rule(sites, o) if entry.kind == "adsb" else _ais_rule(sites, o)
    today = now.astimezone(UTC).date()
    first = (now - timedelta(seconds=entry.lookback_s)).astimezone(UTC).date()
    done = set(status.entry(entry.name).get("days_done") or [])
    days = [first + timedelta(days=k) for k in range((today - first).days)
            if (first + timedelta(days=k)).isoformat() not in done]
    folder = ws.folder / "downloads" / entry.source
    out = Outcome(days=[])
    fetched: list[date] = [date.fromisoformat(d) for d in done]
    for d in days:
        try:
            files, res = _one_day(ws, src, entry.kind, d, folder, keep, int(o.get("workers", 2)))
        except InputError as exc:  # the archive has no such day (yet)
            if (today - d).days <= PUBLISH_DELAY_DAYS:
                out.pending += 1
                out.notes.append(f"{d.isoformat()}: not published yet")
            else:
                out.errors.append(f"{d.isoformat()}: {exc}")
            continue
        except Unreachable as exc:  # the archive's host is down: the other days would fail the same way
            out.errors.append(f"{d.isoformat()}: {exc}")
            out.unreachable = True
            left = len(days) - days.index(d) - 1
            if left:
                out.notes.append(f"{left} later day(s) not tried: the host cannot be reached")
            break
        except SitewatchError as exc:
            out.errors.append(f"{d.isoformat()}: {exc}")
            continue
        if not o.get("keep_download", False):
            for f in files:
                if local_path(f.url) is None:  # never delete a local mirror's files
                    f.path.unlink(missing_ok=True)
        out.new += 0 if res.skipped else res.accepted
        assert out.days is not None
        out.days.append(d.isoformat())
        fetched.append(d)
        out.notes.append(f"{d.isoformat()}: {res.accepted:,} positions kept")
    if fetched:
        out.cover_from = datetime.combine(min(fetched), datetime.min.time(), UTC)
        out.cover_to = datetime.combine(max(fetched) + timedelta(days=1), datetime.min.time(), UTC)
    return out


def _one_day(ws: Any, src: Any, kind: str, d: date, folder: Path, keep: Any, workers: int) -> tuple[list[Any], Any]:
    if kind == "adsb":
        rel = src.release(d)
        files = src.download(rel, folder)
        with _writing(ws):
            return files, src.ingest(ws.store, rel, files, keep, workers)
    from sitewatch.vessels import refresh_workspace

    f = src.fetch(d, folder)
    with _writing(ws):
        res = src.ingest(ws.store, d, f, keep)
        if res.accepted:
            refresh_workspace(ws)
    return [f], res


def _adsb_rule(sites: list[Any], o: dict[str, Any]) -> Any:
    from sitewatch.reference.types import DEFAULT_WATCH, parse_codes
    from sitewatch.sources.adsb.globe import KeepRule, WatchedArea

    codes = DEFAULT_WATCH if str(o.get("watch_types", "default")).lower() == "default" \
        else parse_codes(str(o["watch_types"]))
    return KeepRule(tuple(WatchedArea(s.name, s.lat, s.lon, _radius_km(s)) for s in sites),
                    float(o.get("margin_km", 300.0)), bool(o.get("military_only", False)),
                    bool(o.get("watch_anywhere", False)), frozenset(codes), False)


def _ais_rule(sites: list[Any], o: dict[str, Any]) -> Any:
    from sitewatch.acquire.ais_archives import KeepVessels, areas_for

    margin = float(o.get("margin_km", 100.0))
    return KeepVessels(areas_for(sites, margin), margin, False)


def _radius_km(site: Any) -> float:
    if site.radius_km:
        return float(site.radius_km)
    from sitewatch.geo import haversine_m

    x0, y0, x1, y1 = site.area.bounds
    return float(max(haversine_m(site.lat, site.lon, y, x) for x in (x0, x1) for y in (y0, y1))) / 1000.0


# -- alerts ----------------------------------------------------------------------------------------
def _alerts(ws: Any) -> list[dict[str, Any]]:
    from sitewatch.alerts import engine
    from sitewatch.alerts import rules as R

    cfg = R.load(Path(ws.folder))
    if not cfg.rules:
        return []
    with _writing(ws):
        return engine.check(ws.store, ws.sites, cfg, Path(ws.folder), send=True)
