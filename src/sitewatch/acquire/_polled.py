"""What every polled live API client shares (``readsb_api``, ``opensky``).

:class:`PolledClient` is the polling half of an :class:`~sitewatch.live.api.ApiClient`: one
:class:`~sitewatch.live._poll.Request` per watched area (its origin), all asked by
:func:`sitewatch.live._poll.poll` — its spacing, 429 / Retry-After pauses and per-origin
backoff — with the source's headers (keys, a bearer token) and, where the source has one,
its way to renew credentials on a 401; an answer that cannot be read is one quarantined
document of that origin (the origin is dark until the next good answer); batches wait for
the next commit (:meth:`drain`). A client fills ``requests`` and ``_areas`` and reads
answers in ``take``; this class does the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

from sitewatch.live._net import Chunk, Document
from sitewatch.live._outages import BBox
from sitewatch.live._poll import PollOptions, Request, poll
from sitewatch.live.api import Taken, reject_batch
from sitewatch.sources.base import Batch, Reject


class PolledClient:
    """The shared part of a polled API client (see the module docstring)."""

    def __init__(self, opts: PollOptions, headers: Callable[[], Mapping[str, str]] = dict,
                 on_unauthorized: Callable[[], bool] | None = None) -> None:
        self.opts = opts
        self.requests: list[Request] = []
        self._areas: dict[str, BBox | None] = {}
        self._headers, self._on_unauthorized = headers, on_unauthorized
        self._pending: list[Batch] = []
        self._records = 0  # records read so far (offsets of the next answer start after them)
        self._docs = 0  # answers read so far (the offset of a quarantined answer)

    def areas(self) -> dict[str, BBox | None]:
        return dict(self._areas)

    def origins(self, origin: str) -> Sequence[str]:
        return (origin,)

    def transport(self, stop: threading.Event, tick_s: float) -> Iterator[Chunk]:
        self.opts.tick_s = tick_s
        return poll(self.requests, stop, self.opts, self._headers, self._on_unauthorized)

    def unreadable(self, doc: Document, exc: Exception) -> Taken:
        """Quarantine an answer that could not be read (its first 2,000 characters and why)."""
        raw = doc.data[:2000].decode("utf-8", "replace")
        self._pending.append(reject_batch([Reject(self._docs, raw, f"{doc.origin}: {exc}", "document")]))
        return Taken(False, str(exc))

    def drain(self, final: bool) -> list[Batch]:
        out, self._pending = self._pending, []
        return out
