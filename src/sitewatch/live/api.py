"""Live feeds from web APIs: polled JSON (readsb v2 APIs, OpenSky) and pushed WebSocket (aisstream.io).

Contract: :class:`ApiFeed` is a :class:`~sitewatch.live.base.LiveFeed` — the one loop, one
:class:`~sitewatch.store.writer.SessionWriter`, the same options — whose transport and
parser come from an :class:`ApiClient`, one per source module in :mod:`sitewatch.acquire`
(``readsb_api``, ``opensky``, ``aisstream``). The client says which areas it asks for
(origins and their boxes), builds the transport (:func:`sitewatch.live._poll.poll` or
:func:`sitewatch.live._ws.messages`), reads each message (:meth:`ApiClient.take`) and hands
reader batches over at each commit (:meth:`ApiClient.drain`): positions, aircraft or vessel
reports, quarantined records (a record missing a field it needs: its text and why), and
counters (unknown fields are ignored).

Outages: a failed request, a dropped WebSocket, or an answer that cannot be read (not JSON,
not the documented envelope) makes its origins dark until the next good answer; a good
answer ends it. Each outage is a ``feed_outages`` row with the origin's box, written with the
session's batches (see :mod:`sitewatch.live._outages`).

Repeats: a polled API answers with each aircraft's latest position every time; a row at
the same place as the aircraft's previous one, within ``repeat_window_s`` of it (readsb's
``now - seen_pos`` jitters by a few tenths), is the same report and is dropped (counted
``repeated_positions``), so polling faster does not store more.

Provenance: the session's ``ingest_log`` options carry ``provenance`` (source, licence,
attribution, endpoint without query string, ``keep.sites``: the sites it watched) —
:mod:`sitewatch.store.ingest_log` lists it for reports. Keys and tokens never reach the options, the logs or the quarantine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch.live._net import Chunk, Document
from sitewatch.live._outages import BBox
from sitewatch.live.base import LiveFeed
from sitewatch.sources.base import Batch, Reject
from sitewatch.store.db import Store
from sitewatch.store.writer import Written


@dataclass
class Taken:
    """What one message gave: ``ok`` false when it holds nothing usable (its origins are dark)."""

    ok: bool = True
    reason: str = ""
    records: int = 0


class ApiClient(Protocol):
    """One source's side of a live API feed (implemented in :mod:`sitewatch.acquire`)."""

    kind: str  # adsb / ais: positions.source and ingest_log.kind
    fmt: str  # positions.format; ingest_log.format is "<fmt>-stream"
    counted: tuple[str, ...]  # tables whose rows count as the session's accepted
    repeat_window_s: float  # 0: every row is new (a push stream)

    @property
    def source(self) -> str: ...

    def areas(self) -> dict[str, BBox | None]: ...

    def origins(self, origin: str) -> Sequence[str]: ...

    def transport(self, stop: threading.Event, tick_s: float) -> Iterator[Chunk]: ...

    def take(self, doc: Document) -> Taken: ...

    def drain(self, final: bool) -> list[Batch]: ...

    def options(self) -> dict[str, object]: ...

    def provenance(self) -> dict[str, object]: ...


@dataclass
class ApiStats:
    messages: int = 0
    records: int = 0
    positions: int = 0
    reports: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    connects: int = 0
    disconnects: int = 0
    outages: int = 0
    bytes: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("ids", "started", "counters")}
        out["ids"] = len(self.ids)
        out["counters"] = dict(self.counters)
        out["elapsed_s"] = round(time.monotonic() - self.started, 1)
        return out

    def rate_line(self) -> str:
        return (f"{self.messages:,} answers  {self.positions:,} positions of {len(self.ids):,}  "
                f"{self.rejected:,} quarantined  {self.outages} outages")


def no_rows() -> pa.Table:
    return pa.table({})


class ApiFeed(LiveFeed):
    """A live session over an :class:`ApiClient` (see the module docstring)."""

    tick_s = 0.25

    def __init__(self, store: Store, client: ApiClient, commit_s: float = 5.0, batch_size: int = 20_000,
                 max_s: float | None = None, max_messages: int | None = None, refresh_s: float = 60.0,
                 watch: Sequence[str] = (), on_batch: Callable[[ApiStats], None] | None = None) -> None:
        super().__init__(store, commit_s=commit_s, batch_size=batch_size, max_s=max_s, max_messages=max_messages,
                         backoff_s=0.0, backoff_max_s=0.0, on_batch=on_batch, stats=ApiStats())
        self.client = client
        self.kind, self.fmt, self.counted = client.kind, client.fmt, client.counted
        self.refresh_s, self.watch = refresh_s, list(watch)
        self._t_refresh = time.monotonic()
        self._last: dict[str, tuple[int, float, float]] = {}  # id -> (t_us, lat, lon) of its last row
        self._waiting = 0

    @property
    def source(self) -> str:
        return self.client.source

    def options(self) -> dict[str, object]:
        return {"commit_s": self.commit_s, **self.client.options(), "provenance": self.client.provenance()}

    def _areas(self) -> dict[str, BBox | None]:
        return self.client.areas()

    def _transport(self) -> Iterator[Chunk]:
        return self.client.transport(self._stop, min(self.tick_s, self.commit_s))

    def _take(self, data: bytes) -> None:  # pragma: no cover - message transports only
        raise NotImplementedError

    def _take_document(self, doc: Document) -> None:
        assert self.outages is not None
        self.stats.messages += 1
        got = self.client.take(doc)
        self.stats.records += got.records
        self._waiting += max(got.records, 1)
        for o in self.client.origins(doc.origin):
            if got.ok:
                self.outages.up(o, doc.t_recv_s)
            else:
                self.outages.down(o, doc.t_recv_s, got.reason)
        if got.ok:
            self._ready.set()
        self.stats.outages = self.outages.total

    def _feed_state(self, st: Any) -> None:
        assert self.outages is not None
        for o in self.client.origins(st.origin):
            if st.ok:
                self.outages.up(o, st.t_s)
            else:
                self.outages.down(o, st.t_s, st.reason)
        if not st.ok:
            self.stats.disconnects += 1
        self.stats.outages = self.outages.total

    def _pending(self) -> int:
        return self._waiting

    def _messages(self) -> int:
        return int(self.stats.messages)

    def _batches(self, final: bool) -> list[Batch]:
        self._waiting = 0
        out = []
        for b in self.client.drain(final):
            if b.table == "positions" and b.rows.num_rows and self.client.repeat_window_s > 0:
                b = self._drop_repeats(b)
            for k, v in b.counters.items():
                self.stats.counters[k] = self.stats.counters.get(k, 0) + int(v)
            out.append(b)
        return out

    def _drop_repeats(self, b: Batch) -> Batch:
        rows = b.rows
        ids = rows.column("id").to_pylist()
        t_us = pc.cast(rows.column("t_utc"), pa.int64()).to_numpy(zero_copy_only=False)
        lat = rows.column("lat").to_numpy(zero_copy_only=False)
        lon = rows.column("lon").to_numpy(zero_copy_only=False)
        window_us = self.client.repeat_window_s * 1e6
        keep = np.ones(len(ids), bool)
        for i, ident in enumerate(ids):
            prev = self._last.get(ident)
            cur = (int(t_us[i]), float(lat[i]), float(lon[i]))
            if prev is not None and prev[1] == cur[1] and prev[2] == cur[2] and abs(cur[0] - prev[0]) < window_us:
                keep[i] = False
                continue
            self._last[ident] = cur
        dropped = int((~keep).sum())
        if not dropped:
            return b
        counters = dict(b.counters)
        counters["repeated_positions"] = counters.get("repeated_positions", 0) + dropped
        return Batch(b.table, rows.filter(pa.array(keep)), b.rejects, counters)

    def _committed(self, written: Written, batches: list[Batch], final: bool) -> None:
        s = self.stats
        s.positions += written.by_table.get("positions", 0)
        s.reports += written.by_table.get("vessel_reports", 0)
        s.duplicates += written.duplicates
        for b in batches:
            if b.table == "positions" and b.rows.num_rows:
                s.ids.update(b.rows.column("id").to_pylist())
        if not final and time.monotonic() - self._t_refresh >= self.refresh_s:
            self._refresh()

    def _commit(self, final: bool) -> None:
        super()._commit(final)
        if final:
            self._refresh()

    def _refresh(self) -> None:
        """AIS: the vessels table from the static reports (every ``refresh_s`` and at the end)."""
        if self.kind == "ais":
            from sitewatch.vessels import refresh

            refresh(self.store, self.watch)
        self._t_refresh = time.monotonic()


def reject_batch(rejects: list[Reject], counters: dict[str, int] | None = None) -> Batch:
    """Quarantined records (and counters) with no rows."""
    return Batch("positions", no_rows(), rejects, dict(counters or {}))
