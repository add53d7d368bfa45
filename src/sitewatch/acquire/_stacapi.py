"""JSON over HTTP for catalogues: STAC API item search, static STAC catalogues, JSON APIs.

Plain HTTP (``urllib``) with the retry policy of :mod:`sitewatch.acquire.http` (``429`` waits
``Retry-After``, ``5xx`` and network errors back off, a body cut short is asked again), for
``GET`` and ``POST``. A body that is not JSON is asked again twice, then a
:class:`~sitewatch.acquire.http.FetchError` quoting its first bytes. Headers (keys, tokens)
are sent, never logged nor put in a message; URLs are shown without their query string.

Why not pystac-client: it would add 28 hash-pinned packages to ``requirements/app.txt``
(pystac 1.15 pulls 25 ``pystac-ext-*`` plugins, plus requests/urllib3) and a second HTTP
stack whose retries skip ``POST`` and cut bodies, for what is here one ``POST /search`` and
its ``next`` links. What this module does with the landing page, ``query``/``filter`` and
paging follows the STAC API spec and pystac-client's behaviour (see :func:`search`).

STAC API (``Api``):

* the landing page's ``conformsTo`` says what the server understands. A CQL2 ``filter`` is
  sent only where a filter conformance class is advertised: Element 84's Earth Search
  advertises ``query`` but not ``filter``, and answers a ``filter`` with the whole catalogue
  (recorded: 115,912,757 items matched for ``eo:cloud_cover <= 40``). Cloud cover goes as
  ``query`` where that is advertised, else ``filter``, else it is checked here only — and it
  is always checked here again on every item.
* pages follow ``links[rel=next]``: ``GET`` its ``href``, or ``POST`` its ``body`` (merged with
  the request's when ``merge`` is true), as pystac-client does; at most ``max_pages``, and
  a ``next`` that repeats a page already asked for ends the search.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPException
from typing import Any

from sitewatch.acquire.http import (
    FetchError,
    HttpOptions,
    NotFoundOnServer,
    _pause,
    _Retry,
    _waits,
    http_error,
    local_path,
    network_retry,
    safe_url,
)

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 64 << 20
BAD_JSON_RETRIES = 2

ITEM_SEARCH = re.compile(r"/item-search$")
QUERY = re.compile(r"item-search#query$")
FILTER = re.compile(r"(item-search#filter$|ogcapi-features-3/[^/]+/conf/(features-)?filter$)")


class NotJson(FetchError):
    """A catalogue answered with something that is not the JSON document expected."""


def fetch_json(url: str, opts: HttpOptions | None = None, *, method: str = "GET", body: Any = None,
               form: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
               max_bytes: int = MAX_JSON_BYTES, empty_ok: bool = False) -> Any:
    """The JSON document at ``url`` (``body`` is sent as JSON, ``form`` as a form); ``None`` for an
    empty body when ``empty_ok`` (an action answered ``202``/``204``)."""
    opts = opts or HttpOptions()
    path = local_path(url)
    if path is not None:  # a catalogue on disk (file:// or a path)
        try:
            return json.loads(path.read_bytes())
        except OSError as exc:
            raise FetchError(f"{url}: {exc.strerror or exc}") from None
        except (ValueError, RecursionError) as exc:
            raise NotJson(f"{path.name}: not JSON ({exc})") from None
    waits = _waits(opts)
    bad = 0
    while True:
        try:
            raw = _send(url, opts, method, body, form, headers or {}, max_bytes)
        except _Retry as r:
            _pause(url, r, waits, opts)
            continue
        if empty_ok and not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            bad += 1
            if bad > BAD_JSON_RETRIES:
                head = raw[:80].decode("utf-8", "replace").replace("\n", " ")
                raise NotJson(f"{safe_url(url)}: the answer is not JSON ({exc}); it begins {head!r}") from None
            _pause(url, _Retry("the answer is not JSON"), waits, opts)


def _send(url: str, opts: HttpOptions, method: str, body: Any, form: Mapping[str, str] | None,
          headers: Mapping[str, str], max_bytes: int) -> bytes:
    hdrs = {"User-Agent": opts.user_agent, "Accept": "application/geo+json, application/json", **headers}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=opts.attempt_timeout_s()) as resp:
            raw: bytes = resp.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        detail = _detail(exc)
        exc.close()
        raise http_error(url, exc, t0, detail) from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException, OSError) as exc:
        raise network_retry(exc, t0) from None
    if len(raw) > max_bytes:
        raise FetchError(f"{safe_url(url)}: more than {max_bytes >> 20} MiB; not the document expected")
    return raw


def _detail(exc: urllib.error.HTTPError) -> str:
    """The server's own short reason (``description``/``detail``/``message`` of a JSON error body)."""
    try:
        doc = json.loads(exc.read(4096) or b"{}")
    except (ValueError, OSError, HTTPException):
        return ""
    if isinstance(doc, dict):
        for k in ("description", "detail", "message", "error_description"):
            if isinstance(doc.get(k), str) and doc[k].strip():
                return f": {doc[k].strip()[:200]}"
    return ""


# -- STAC API ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Api:
    """A STAC API as its landing page describes it."""

    url: str
    conforms: tuple[str, ...]
    search_href: str
    search_post: bool = True
    title: str = ""

    def has(self, pattern: re.Pattern[str]) -> bool:
        return any(pattern.search(u) for u in self.conforms)

    @property
    def cloud_by(self) -> str:
        """How cloud cover is asked for: ``query``, ``filter`` or ``client`` (checked here only)."""
        return "query" if self.has(QUERY) else "filter" if self.has(FILTER) else "client"


def open_api(url: str, opts: HttpOptions, headers: Mapping[str, str] | None = None) -> Api:
    """Read a STAC API's landing page (``conformsTo`` from ``/conformance`` when the page has none)."""
    url = url.rstrip("/")
    doc = fetch_json(url, opts, headers=headers)
    if not isinstance(doc, dict):
        raise NotJson(f"{safe_url(url)}: not a STAC API landing page (a JSON object expected)")
    links = [ln for ln in doc.get("links") or [] if isinstance(ln, dict) and isinstance(ln.get("href"), str)]
    conforms = doc.get("conformsTo")
    if not isinstance(conforms, list):
        conf = next((ln["href"] for ln in links if ln.get("rel") == "conformance"), f"{url}/conformance")
        try:
            cdoc = fetch_json(urllib.parse.urljoin(url + "/", conf), opts, headers=headers)
            conforms = cdoc.get("conformsTo") if isinstance(cdoc, dict) else None
        except NotFoundOnServer:
            conforms = None
    conforms = tuple(str(c) for c in conforms or [] if isinstance(c, str))
    searches = [ln for ln in links if ln.get("rel") == "search"]
    posts = [ln for ln in searches if str(ln.get("method", "")).upper() == "POST"]
    gets = [ln for ln in searches if str(ln.get("method", "GET")).upper() == "GET"]
    chosen = (posts or searches or [{"href": f"{url}/search"}])[0]
    post = bool(posts) or not gets
    if conforms and not any(ITEM_SEARCH.search(c) for c in conforms) and not searches:
        raise FetchError(f"{safe_url(url)} is a STAC catalogue without item search (no item-search conformance); "
                         "give a STAC API, or a static catalogue with the maxar preset")
    return Api(url, conforms, urllib.parse.urljoin(url + "/", str(chosen["href"])), post,
               str(doc.get("title") or doc.get("id") or ""))


def search_body(api: Api, collections: list[str], bbox: tuple[float, float, float, float], t0: datetime,
                t1: datetime, max_cloud: float | None, limit: int) -> dict[str, Any]:
    """The item-search request (``query`` / ``filter`` only where the API advertises it)."""
    body: dict[str, Any] = {"collections": collections, "bbox": [round(v, 7) for v in bbox],
                            "datetime": f"{_z(t0)}/{_z(t1)}", "limit": limit}
    if max_cloud is not None:
        if api.cloud_by == "query":
            body["query"] = {"eo:cloud_cover": {"lte": max_cloud}}
        elif api.cloud_by == "filter":
            body["filter"] = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, max_cloud]}
            body["filter-lang"] = "cql2-json"
    return body


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Pages:
    """What a search asked: each request (method, URL, body) and the server's total when it said."""

    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    matched: int | None = None


def search(api: Api, body: dict[str, Any], opts: HttpOptions, headers: Mapping[str, str] | None = None,
           max_pages: int = 20, log_into: Pages | None = None) -> Iterator[dict[str, Any]]:
    """Every page of an item search, following ``next`` links (see the module docstring)."""
    pages = log_into if log_into is not None else Pages()
    method, href, req = ("POST", api.search_href, body) if api.search_post else (
        "GET", f"{api.search_href}?{urllib.parse.urlencode(_get_params(body))}", None)
    seen: set[str] = set()
    for _ in range(max_pages):
        key = f"{method} {href} {json.dumps(req, sort_keys=True)}"
        if key in seen:
            log.warning("%s: the next page repeats one already read; stopping", safe_url(href))
            return
        seen.add(key)
        pages.requests.append((method, href, req))
        page = fetch_json(href, opts, method=method, body=req, headers=headers)
        if not isinstance(page, dict) or page.get("type") != "FeatureCollection":
            raise NotJson(f"{safe_url(href)}: not an ItemCollection (type {_type(page)!r})")
        if pages.matched is None:
            m = page.get("numberMatched", (page.get("context") or {}).get("matched"))
            pages.matched = m if isinstance(m, int) else None
        feats = page.get("features")
        if not isinstance(feats, list) or not feats:
            return
        yield page
        nxt = next((ln for ln in page.get("links") or [] if isinstance(ln, dict) and ln.get("rel") == "next"
                    and isinstance(ln.get("href"), str)), None)
        if nxt is None:
            return
        href = urllib.parse.urljoin(href, nxt["href"])
        method = str(nxt.get("method") or "GET").upper()
        if method == "POST":
            link_body: dict[str, Any] = nxt["body"] if isinstance(nxt.get("body"), dict) else {}
            req = {**(req or body), **link_body} if nxt.get("merge") else dict(link_body)
        else:
            req = None
    log.warning("%s: stopped after %d pages", safe_url(api.search_href), max_pages)


def _type(doc: Any) -> str:
    return str(doc.get("type")) if isinstance(doc, dict) else type(doc).__name__


def _get_params(body: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in body.items():
        if k in ("collections", "bbox"):
            out[k] = ",".join(str(x) for x in v)
        elif k == "filter":
            continue  # CQL2-JSON does not travel in a query string; the items are checked here
        elif isinstance(v, dict | list):
            out[k] = json.dumps(v)
        else:
            out[k] = str(v)
    return out


# -- static catalogues ---------------------------------------------------------------------------
def walk_static(root: str, opts: HttpOptions, bbox: tuple[float, float, float, float],
                t0: datetime, t1: datetime, max_docs: int = 2000,
                headers: Mapping[str, str] | None = None) -> Iterator[tuple[dict[str, Any], str]]:
    """Items of a static STAC catalogue under ``root`` (``(item, its URL)``), breadth first.

    Catalogues and collections are followed through ``child`` and ``item`` links (relative
    hrefs resolved against the document); a collection whose ``extent`` misses ``bbox`` or the
    time window is not descended into. At most ``max_docs`` documents are read."""
    queue = [root]
    seen: set[str] = set()
    read = 0
    while queue and read < max_docs:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        doc = fetch_json(url, opts, headers=headers)
        read += 1
        if not isinstance(doc, dict):
            raise NotJson(f"{safe_url(url)}: not a STAC document")
        if doc.get("type") == "Feature":
            yield doc, url
            continue
        if doc.get("type") == "Collection" and not _extent_meets(doc.get("extent"), bbox, t0, t1):
            continue
        for ln in doc.get("links") or []:
            if isinstance(ln, dict) and ln.get("rel") in ("child", "item") and isinstance(ln.get("href"), str):
                queue.append(urllib.parse.urljoin(url, ln["href"]))
    if queue:
        log.warning("%s: stopped after %d catalogue documents", safe_url(root), max_docs)


def _extent_meets(extent: Any, bbox: tuple[float, float, float, float], t0: datetime, t1: datetime) -> bool:
    """Whether a collection's ``extent`` may hold items in ``bbox`` and [t0, t1] (unknown: yes)."""
    from sitewatch.imagery.scenes import parse_tag_time

    if not isinstance(extent, dict):
        return True
    try:
        boxes = extent["spatial"]["bbox"]
        if boxes and not any(b[0] <= bbox[2] and bbox[0] <= b[2] and b[1] <= bbox[3] and bbox[1] <= b[3]
                             for b in boxes[:1]):
            return False
    except (KeyError, TypeError, IndexError):
        pass
    try:
        lo, hi = extent["temporal"]["interval"][0]
        a = parse_tag_time(str(lo)) if lo else None
        b = parse_tag_time(str(hi)) if hi else None
        if (a is not None and a > t1) or (b is not None and b < t0):
            return False
    except (KeyError, TypeError, IndexError, ValueError):
        pass
    return True
