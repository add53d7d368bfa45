"""The polling transport of live feeds: HTTP JSON APIs asked again every few seconds.

Contract: :func:`poll` asks each :class:`Request` (one per watched area) every
``interval_s`` and yields each answer as a :class:`~sitewatch.live._net.Document`, ``None``
every ``tick_s`` while it waits (the loop commits on time), and a
:class:`~sitewatch.live._net.FeedState` when an origin goes dark or answers again. It is
polite: at most one request every ``spacing_s`` to the service (adsb.fi and airplanes.live
allow one a second), and

* ``429 Too Many Requests``: every origin waits ``Retry-After`` (seconds or an HTTP date; or
  OpenSky's ``X-Rate-Limit-Retry-After-Seconds``), else the backoff; all origins are dark
  for that time (nothing is asked);
* ``5xx``, timeouts, refused or reset connections, a body cut short: that origin is dark and
  is asked again after a backoff doubling from ``backoff_s`` to ``backoff_max_s`` (reset by
  the next answer);
* ``401``: ``on_unauthorized()`` refreshes the credentials (an expired OAuth2 token) and the
  request is sent once more;
* any other ``4xx`` before a first answer is a configuration error
  (:class:`~sitewatch.acquire.http.FetchError`, one line: wrong base URL, layout or key);
  after one it is an outage like a ``5xx``.

Redirects are refused (a key header must not follow a redirect to another host). Headers
(keys, tokens) are sent, never logged nor put in a reason; URLs are shown without query.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.client import HTTPException, IncompleteRead
from typing import Any

from sitewatch.acquire.http import FetchError, HttpOptions, retry_after_s, safe_url
from sitewatch.live._net import Chunk, Document, FeedState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One request of a polled feed: the area it watches (``origin``) and its URL."""

    origin: str
    url: str


@dataclass
class PollOptions:
    interval_s: float = 10.0
    timeout_s: float = 20.0
    spacing_s: float = 1.0
    backoff_s: float = 5.0
    backoff_max_s: float = 300.0
    max_wait_s: float = 3600.0  # the longest Retry-After honoured
    max_bytes: int = 32 << 20
    tick_s: float = 0.5
    user_agent: str = HttpOptions().user_agent


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no HTTP answer (network error, timeout, cut body)
    body: bytes | None
    headers: Mapping[str, str]
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: Mapping[str, str], opts: PollOptions) -> Reply:
    """One GET, never raising for what a server or the network can do wrong."""
    req = urllib.request.Request(url, headers={"User-Agent": opts.user_agent, "Accept": "application/json",
                                               "Accept-Encoding": "gzip", **headers})
    try:
        with _OPENER.open(req, timeout=opts.timeout_s) as resp:
            body: bytes = resp.read(opts.max_bytes + 1)
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        hdrs = {k.lower(): v for k, v in (exc.headers.items() if exc.headers else [])}
        exc.close()
        return Reply(exc.code, None, hdrs, f"HTTP {exc.code}")
    except IncompleteRead as exc:
        return Reply(0, None, {}, f"response cut short after {len(exc.partial):,} bytes")
    except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException, OSError) as exc:
        return Reply(0, None, {}, f"network error ({getattr(exc, 'reason', exc)})")
    if len(body) > opts.max_bytes:
        return Reply(0, None, hdrs, f"response over {opts.max_bytes >> 20} MiB")
    announced = hdrs.get("content-length", "")
    if announced.isdigit() and len(body) < int(announced):
        return Reply(0, None, hdrs, f"response cut short after {len(body):,} of {int(announced):,} bytes")
    if hdrs.get("content-encoding", "").lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            return Reply(0, None, hdrs, f"broken gzip body ({exc})")
    return Reply(status, body, hdrs)


def wait_of(reply: Reply) -> float | None:
    """Seconds a 429 asks to wait (``Retry-After`` or OpenSky's own header)."""
    h = reply.headers
    for key in ("retry-after", "x-rate-limit-retry-after-seconds"):
        w = retry_after_s(h.get(key))
        if w is not None:
            return w
    return None


def poll(requests: Sequence[Request], stop: threading.Event, opts: PollOptions,
         headers: Callable[[], Mapping[str, str]] = dict,
         on_unauthorized: Callable[[], bool] | None = None,
         fetcher: Callable[[str, Mapping[str, str], PollOptions], Reply] = fetch) -> Iterator[Chunk]:
    """Poll ``requests`` until ``stop`` is set (see the module docstring)."""
    if not requests:
        return
    start = time.monotonic()
    next_due = {r.origin: start + k * opts.spacing_s for k, r in enumerate(requests)}
    backoff = dict.fromkeys(next_due, 0.0)
    pause_until = 0.0
    last_req = -1e18
    answered = False
    by_origin = {r.origin: r for r in requests}
    while not stop.is_set():
        now = time.monotonic()
        ready_at = max(min(next_due.values()), pause_until, last_req + opts.spacing_s)
        if now < ready_at:
            if stop.wait(min(opts.tick_s, ready_at - now)):
                return
            yield None
            continue
        r = by_origin[min(next_due, key=lambda o: next_due[o])]
        last_req = now
        try:
            reply = fetcher(r.url, headers(), opts)
            if reply.status == 401 and on_unauthorized is not None and on_unauthorized():
                reply = fetcher(r.url, headers(), opts)
        except FetchError as exc:  # the credentials could not be had (token endpoint down)
            if not answered:
                raise
            reply = Reply(0, None, {}, str(exc))
        t = time.time()
        now = time.monotonic()
        if reply.status == 200 and reply.body is not None:
            answered = True
            backoff[r.origin] = 0.0
            next_due[r.origin] = max(next_due[r.origin] + opts.interval_s, now + opts.spacing_s)
            yield Document(reply.body, r.origin, t)
            continue
        if reply.status == 429:
            asked = wait_of(reply)
            wait = min(opts.max_wait_s, asked if asked is not None else max(opts.backoff_s, 2 * max(backoff.values())))
            for o in backoff:
                backoff[o] = max(backoff[o], wait)
            pause_until = now + wait
            log.warning("%s: HTTP 429 rate limited; waiting %.0f s", safe_url(r.url), wait)
            for o in next_due:
                yield FeedState(o, False, t, f"HTTP 429 rate limited (waited {wait:.0f} s)")
            continue
        if reply.status in (400, 403, 404, 405, 410) and not answered:
            raise FetchError(f"{safe_url(r.url)}: HTTP {reply.status} on the first request: check the API "
                             "base URL, its layout and the key")
        if reply.status == 401 and not answered:
            raise FetchError(f"{safe_url(r.url)}: HTTP 401: the credentials were refused; check the key "
                             "or client id/secret in the environment")
        reason = reply.error or f"HTTP {reply.status}"
        backoff[r.origin] = min(opts.backoff_max_s, max(opts.backoff_s, 2 * backoff[r.origin]))
        next_due[r.origin] = now + max(opts.interval_s, backoff[r.origin])
        log.warning("%s: %s; asking again in %.0f s", safe_url(r.url), reason, next_due[r.origin] - now)
        yield FeedState(r.origin, False, t, reason)
