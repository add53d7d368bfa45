"""The one loop of every live feed: transport in, batches committed, stop conditions.

:class:`LiveFeed` reads its transport (:mod:`sitewatch.live._net`: the reconnecting TCP
reader, or a UDP listener), hands bytes to the feed's parser (``_take``), and every
``commit_s`` seconds — or once ``batch_size`` messages wait — turns what waits into reader
batches (``_batches``) and writes them through one
:class:`~sitewatch.store.writer.SessionWriter`: one transaction per batch, the session's
``ingest_log`` totals in the same transaction. On a dropped connection the parser restarts
clean (``_disconnected``: a record cut by the drop is quarantined).

Message transports (polled HTTP APIs, WebSocket streams: :mod:`sitewatch.live.api`) yield
whole messages (``Document``, handed to ``_take_document``) and origins going dark
(``FeedState``). Every feed keeps an :class:`~sitewatch.live._outages.OutageBook`: a TCP
feed's refused or dropped connection, an API's failed request, a document that could not be
read are **coverage outages**, written to ``feed_outages`` in the batch's transaction (open
ones too, so a killed session leaves them), so that the analytics never read a silence the
feed caused as a transponder switched off.

Stops on :meth:`stop`, after ``max_s`` seconds or ``max_messages`` messages, or Ctrl-C in
the CLI; what waits is committed before :meth:`run` returns. The same vocabulary for every
feed (and both ``stream`` commands): ``commit_s`` (``--commit-every``), ``max_s``
(``--duration``), ``max_messages`` (``--max-messages``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sitewatch.live._net import DISCONNECTED, Chunk, Document, FeedState, tcp_chunks
from sitewatch.live._outages import BBox, OutageBook
from sitewatch.sources.base import Batch
from sitewatch.store.db import Store
from sitewatch.store.writer import SessionWriter, Written


class LiveFeed:
    """Base of :class:`~sitewatch.live.adsb.AdsbStream` and :class:`~sitewatch.live.ais.AisStream`."""

    kind = ""  # ingest_log.kind
    fmt = ""  # ingest_log.format is "<fmt>-stream"
    counted: Iterable[str] | None = None  # tables whose rows count as accepted (None: all)
    tick_s = 0.5  # how often an idle transport wakes up (commit on time)

    def __init__(self, store: Store, *, commit_s: float, batch_size: int, max_s: float | None,
                 max_messages: int | None, backoff_s: float, backoff_max_s: float,
                 on_batch: Callable[[Any], None] | None, stats: Any) -> None:
        self.store = store
        self.commit_s, self.batch_size = commit_s, batch_size
        self.max_s, self.max_messages = max_s, max_messages
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self.on_batch = on_batch
        self.stats = stats
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._t0 = time.monotonic()
        self.writer: SessionWriter | None = None
        self.outages: OutageBook | None = None

    # -- what a feed provides ------------------------------------------------------------------
    @property
    def source(self) -> str:  # pragma: no cover - subclasses
        raise NotImplementedError

    def options(self) -> dict[str, object]:
        return {"commit_s": self.commit_s, "batch_size": self.batch_size}

    def _take(self, data: bytes) -> None:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _disconnected(self) -> None:
        """The connection dropped: restart the parser clean (a cut record is quarantined)."""

    def _take_document(self, doc: Document) -> None:
        """A whole message of a message transport (feeds that use one override this)."""
        self._take(doc.data)

    def _areas(self) -> dict[str, BBox | None]:
        """The box each origin of the feed watches (``None``: unknown, e.g. a receiver's reach)."""
        return {"feed": None}

    def _pending(self) -> int:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _messages(self) -> int:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _batches(self, final: bool) -> list[Batch]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _committed(self, written: Written, batches: list[Batch], final: bool) -> None:
        """Count what was stored (statistics, refreshes) after each committed batch."""

    def _transport(self) -> Iterator[Chunk]:
        """The TCP reader by default; :class:`AisStream` may listen on UDP instead."""
        host, port = self._address()
        return tcp_chunks(host, port, self._stop, tick_s=min(self.tick_s, self.commit_s), backoff_s=self.backoff_s,
                          backoff_max_s=self.backoff_max_s, on_connect=self._on_connect,
                          on_disconnect=self._on_disconnect)

    def _address(self) -> tuple[str, int]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _on_connect(self) -> None:
        self.stats.connects += 1
        self._ready.set()

    def _on_disconnect(self, reason: str) -> None:
        self.stats.disconnects += 1
        if self.outages is not None:
            self.outages.down("feed", time.time(), reason)

    # -- control -------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Block until connected (TCP) or bound (UDP)."""
        return self._ready.wait(timeout)

    def _done(self) -> bool:
        if self._stop.is_set():
            return True
        if self.max_messages is not None and self._messages() >= self.max_messages:
            return True
        return self.max_s is not None and time.monotonic() - self._t0 >= self.max_s

    def run(self) -> Any:
        """Read until stopped; returns the statistics (also kept in :attr:`stats`)."""
        self._t0 = time.monotonic()
        self.writer = SessionWriter(self.store, self.kind, self.source, self.fmt, self.options(), self.counted,
                                    replace=("feed_outages",))
        self.writer.open()
        self.outages = OutageBook(self.kind, self.source, self._areas())
        last = time.monotonic()
        try:
            for chunk in self._transport():
                if chunk is DISCONNECTED:
                    self._disconnected()
                elif isinstance(chunk, Document):
                    self.stats.bytes += len(chunk)
                    self._take_document(chunk)
                elif isinstance(chunk, FeedState):
                    self._feed_state(chunk)
                elif chunk:
                    self.stats.bytes += len(chunk)
                    self.outages.up("feed", time.time())
                    self._take(chunk)
                if time.monotonic() - last >= self.commit_s or self._pending() >= self.batch_size:
                    self._commit(final=False)
                    last = time.monotonic()
                if self._done():
                    break
        finally:
            self._stop.set()
            self._commit(final=True)
            self.writer.close()
        return self.stats

    def _feed_state(self, st: FeedState) -> None:
        assert self.outages is not None
        if st.ok:
            self.outages.up(st.origin, st.t_s)
        else:
            self.outages.down(st.origin, st.t_s, st.reason)

    def _commit(self, final: bool) -> None:
        assert self.writer is not None
        batches = self._batches(final)
        outage_rows = self.outages.rows(final) if self.outages is not None else []
        if not batches:
            if outage_rows:  # nothing else to write: the outages alone, not counted as a batch
                self.writer.write(outage_rows)
            return
        written = self.writer.write(batches + outage_rows)
        self.stats.rejected += written.rejected
        self.stats.batches += 1
        self._committed(written, batches, final)
        if self.on_batch:
            self.on_batch(self.stats)
