"""One pass over the positions, partition by partition: legs, site events, gaps, coverage.

Contract: :func:`run` reads whole-aircraft partitions (bounded memory), builds
:class:`~._tracks.Tracks` once per partition and derives from it the legs
(:func:`.flights.legs`), the raw site events (:func:`.site_events.detect`), the gap rows
(:func:`.gaps.gaps_from_tracks`, the NumPy twin of the SQL in
:func:`sitewatch.store.positions_air.gaps`) and the coverage-map keys; then finalises the
site events (runway inference needs all of them) and classifies the gaps against the
coverage map of every partition. Gaps that are seen ground stays
(:func:`.gaps.seen_ground_stays`: bracketed by an arrival and a departure at one airfield, or
lost and reacquired on the ground there) are set apart per partition, next to the site events
they are judged with, and are not classified: :attr:`Result.ground_stays` lists them with their
reason; so are the gaps that recorded live-feed outages explain (:func:`.gaps.split_outages`,
:attr:`Result.outage_gaps`). :func:`for_context` memoises the result for one ``sitewatch analyze`` run, so the ``air.flights``, ``air.site-events`` and ``air.dark-gaps``
analyses share one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch import schema
from sitewatch.analytics.air import _tracks as T
from sitewatch.analytics.air import flights as F
from sitewatch.analytics.air import gaps as G
from sitewatch.analytics.air import site_events as SE
from sitewatch.analytics.air._airfields import Airfields
from sitewatch.analytics.air._params import AirParams, from_settings
from sitewatch.analytics.base import AnalysisContext
from sitewatch.store import positions_air as AIR


@dataclass
class Result:
    legs: pa.Table
    site_events: list[dict[str, Any]]
    gap_events: list[dict[str, Any]]
    n_rows: int = 0
    n_stale: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    ground_stays: list[dict[str, Any]] = field(default_factory=list)
    """Gaps set apart as seen ground stays (not dark): subject, airfield, times, rule, reason."""
    outage_gaps: list[dict[str, Any]] = field(default_factory=list)
    """Gaps set apart as live-feed outages (not dark): subject, times, outage seconds, reason."""


@dataclass
class Piece:
    """What one partition contributes before the global steps."""

    legs: pa.Table
    raw_events: list[dict[str, Any]]
    gap_rows: pa.Table
    cov_keys: np.ndarray
    n_rows: int
    n_stale: int
    seconds: dict[str, float]
    ground_stays: list[dict[str, Any] | None] = field(default_factory=list)
    """Per row of ``gap_rows``: the seen ground stay it is (not a dark gap), else None."""


def process(part: pa.Table, af: Airfields, p: AirParams, use_flags: bool = True) -> Piece:
    """Legs, raw site events, gap rows and coverage keys of one whole-aircraft partition."""
    import time

    t0 = time.perf_counter()
    tr = T.from_arrow(part, p.stale_min_kt)
    t1 = time.perf_counter()
    legs = F.legs(tr, af, p, use_flags)
    t2 = time.perf_counter()
    raw = SE.detect(tr, af, p, use_flags)
    t3 = time.perf_counter()
    gap_rows = G.gaps_from_tracks(tr, p)
    stays = G.seen_ground_stays(gap_rows, raw, af, p)  # whole aircraft here: their events are all here
    keys = G.CoverageMap.keys_of(tr, p.coverage_cell_deg, p.coverage_bin_s)
    t4 = time.perf_counter()
    return Piece(legs, raw, gap_rows, keys, part.num_rows, tr.n_stale,
                 {"tracks": t1 - t0, "legs": t2 - t1, "site_events": t3 - t2, "gaps": t4 - t3}, stays)


def combine(pieces: Iterable[Piece], p: AirParams, outages: G.Outages | None = None) -> Result:
    """Finalise site events over all partitions and classify the gaps on the whole coverage map
    (all but the seen ground stays, which go to :attr:`Result.ground_stays`, and the gaps the
    feed ``outages`` explain, which go to :attr:`Result.outage_gaps`)."""
    import time

    pieces = list(pieces)
    secs: dict[str, float] = {}
    for pc_ in pieces:
        for k, v in pc_.seconds.items():
            secs[k] = secs.get(k, 0.0) + v
    t0 = time.perf_counter()
    events = SE.finalize([e for pc_ in pieces for e in pc_.raw_events], p)
    gap_events: list[dict[str, Any]] = []
    gap_rows: list[pa.Table] = []
    ground_stays: list[dict[str, Any]] = []
    for pc_ in pieces:
        rows, stays = pc_.gap_rows, pc_.ground_stays
        if rows.num_rows and len(stays) == rows.num_rows:
            ground_stays += [s for s in stays if s is not None]
            rows = rows.filter(pa.array([s is None for s in stays], pa.bool_()))
        if rows.num_rows:
            gap_rows.append(rows)
    ground_stays.sort(key=lambda s: (s["t_start"], s["subject"]))
    outage_gaps: list[dict[str, Any]] = []
    if gap_rows:
        rows_all, outage_gaps = G.split_outages(pa.concat_tables(gap_rows), outages, p)
        cov = G.CoverageMap(np.concatenate([pc_.cov_keys for pc_ in pieces]), p.coverage_cell_deg,
                            p.coverage_bin_s)
        gap_events = G.classify(rows_all, cov, p, outages)
    secs["finalize"] = time.perf_counter() - t0
    legs = [pc_.legs for pc_ in pieces if pc_.legs.num_rows]
    leg_table = pa.concat_tables(legs) if legs else schema.FLIGHTS.arrow_schema().empty_table()
    return Result(leg_table, events, gap_events, sum(pc_.n_rows for pc_ in pieces),
                  sum(pc_.n_stale for pc_ in pieces), secs, ground_stays, outage_gaps)


def run(partitions: Iterable[pa.Table], af: Airfields, p: AirParams, use_flags: bool = True,
        outages: G.Outages | None = None) -> Result:
    """:func:`process` each partition in turn, then :func:`combine`."""
    return combine((process(part, af, p, use_flags) for part in partitions), p, outages)


def read_parquet_partition(path: str | Path) -> pa.Table:
    """One Parquet file of whole aircraft as a partition (``TRACK_COLUMNS``).

    Files written sorted (each aircraft's reports contiguous, in time order — how the
    benchmark and the Spark layout write them) are used as they are; otherwise the rows
    are sorted by (id, time) here.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    cols = ["t_utc", "id", "lat", "lon", "alt_ft", "speed_kt", "track_deg", "onground", "vrate_fpm"]
    t = pq.read_table(path, columns=cols)
    t_s = pc.divide(pc.cast(pc.cast(t.column("t_utc"), pa.int64()), pa.float64()), 1e6)
    t = t.drop_columns(["t_utc"]).append_column("t_s", t_s).select(list(AIR.TRACK_COLUMNS))
    ids = t.column("id").combine_chunks()
    n = len(ids)
    if n > 1:
        change = pc.not_equal(ids.slice(1), ids.slice(0, n - 1))
        n_runs = int(pc.sum(change).as_py() or 0) + 1
        ts = t.column("t_s").combine_chunks()
        back = pc.less(ts.slice(1), ts.slice(0, n - 1))
        backwards = int(pc.sum(pc.and_(back, pc.invert(change))).as_py() or 0)
        if n_runs != pc.count_distinct(ids).as_py() or backwards:
            t = t.sort_by([("id", "ascending"), ("t_s", "ascending")])
    return t


def _process_file(args: tuple[str, Airfields, AirParams, bool]) -> Piece:
    path, af, p, use_flags = args
    return process(read_parquet_partition(path), af, p, use_flags)


def run_parquet(paths: list[str | Path], af: Airfields, p: AirParams, use_flags: bool = True,
                workers: int = 1) -> Result:
    """The pipeline over Parquet files (one partition per file), on ``workers`` processes."""
    jobs = [(str(f), af, p, use_flags) for f in paths]
    if workers <= 1:
        return combine((_process_file(j) for j in jobs), p)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as ex:
        return combine(ex.map(_process_file, jobs), p)


_MEMO: dict[str, Any] = {}


def _key(ctx: AnalysisContext) -> tuple[Any, ...]:
    p = from_settings(ctx.settings)
    rel = AIR.store_relation("adsb").filtered(ctx.t_from, ctx.t_to)
    n = AIR.count(ctx.store, rel)
    from sitewatch.store.feed_outages import count

    return (id(ctx), id(ctx.store), ctx.t_from, ctx.t_to, n, repr(p), tuple(sorted(ctx.sites)),
            count(ctx.store, "adsb"))


def preset(ctx: AnalysisContext, result: Result) -> None:
    """Make ``result`` (a pass computed elsewhere, e.g. by the Spark engine) the pass that the
    air analyses of ``ctx`` use."""
    _MEMO["key"], _MEMO["value"] = _key(ctx), result


def for_context(ctx: AnalysisContext) -> Result:
    """The pass over the context's ADS-B positions, computed once per analyze run."""
    p = from_settings(ctx.settings)
    key = _key(ctx)
    n = int(key[4])
    rel = AIR.store_relation("adsb").filtered(ctx.t_from, ctx.t_to)
    if _MEMO.get("key") != key:
        if n == 0:  # nothing to do: skip loading 28k airfields
            _MEMO["key"], _MEMO["value"] = key, combine([], p)
            return combine([], p)
        af = Airfields.default(ctx.sites.values())
        outages = G.Outages.load(ctx.store, "adsb", ctx.t_from, ctx.t_to)
        _MEMO["value"] = run(AIR.track_partitions(ctx.store, rel, total_rows=n), af, p, p.use_onground_flags, outages)
        _MEMO["key"] = key
    result: Result = _MEMO["value"]
    return result
