"""HTTP for fetchers: polite retries, resumable downloads, size and checksum checks.

Contract:

* :func:`get_bytes` reads a small document (a listing, a JSON manifest) with retries.
* :func:`download` writes ``url`` to ``dest`` through ``dest.part``: an interrupted transfer
  (a dropped connection, a timeout, a body cut short) resumes with an HTTP ``Range`` request
  from the bytes already on disk — also across runs, since the ``.part`` file stays; a server
  that ignores ``Range`` (200 instead of 206) or answers with another start restarts the
  file. ``429 Too Many Requests`` waits ``Retry-After`` (seconds or an HTTP date; else the
  backoff), ``5xx`` and network errors back off exponentially; other ``4xx`` fail at once.
  The size announced by the server and the final size are checked against the expected
  size, the SHA-256 (computed while writing, the resumed part hashed first) against the
  expected digest; a mismatch is a :class:`FetchError` naming the file, and a file with the
  wrong checksum is deleted (resuming would keep the bad bytes).
* ``file://`` URLs (a local mirror) are used in place, checked the same way, never copied.

Secrets: request headers (tokens from the environment) are sent, never logged nor put in
an error message; URLs are shown without their query string.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path
from typing import Any

from sitewatch import __version__
from sitewatch.errors import SitewatchError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


class FetchError(SitewatchError, OSError):
    """A download failed, or its bytes are not the ones announced (size, checksum)."""


class NotFoundOnServer(FetchError):
    """The server has no such file (HTTP 404 / 410)."""


@dataclass
class HttpOptions:
    """Timeouts and retry policy (``sleep`` is replaceable, for tests)."""

    timeout_s: float = 60.0
    retries: int = 8
    backoff_s: float = 2.0
    max_wait_s: float = 600.0
    user_agent: str = f"sitewatch/{__version__} (+https://github.com/sitewatch)"
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


@dataclass(frozen=True)
class Downloaded:
    """A file on disk with the URL it came from, its size and SHA-256."""

    url: str
    path: Path
    size_bytes: int
    sha256: str


def safe_url(url: str) -> str:
    """``url`` without query string or credentials (for messages and logs)."""
    p = urllib.parse.urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host += f":{p.port}"
    return urllib.parse.urlunsplit((p.scheme, host, p.path, "", ""))


def local_path(url: str) -> Path | None:
    """The path of a ``file://`` URL (or of a plain path), else ``None``."""
    p = urllib.parse.urlsplit(url)
    if p.scheme == "file":
        return Path(urllib.parse.unquote(p.path))
    if p.scheme == "" and url:
        return Path(url)
    return None


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Retry(Exception):
    def __init__(self, why: str, wait_s: float | None = None) -> None:
        super().__init__(why)
        self.wait_s = wait_s


def _open(url: str, headers: Mapping[str, str], opts: HttpOptions) -> Any:
    req = urllib.request.Request(url, headers={"User-Agent": opts.user_agent, **headers})
    try:
        return urllib.request.urlopen(req, timeout=opts.timeout_s)
    except urllib.error.HTTPError as exc:
        code = exc.code
        wait = retry_after_s(exc.headers.get("Retry-After")) if exc.headers else None
        exc.close()
        if code == 429:
            raise _Retry("HTTP 429 Too Many Requests", wait) from None
        if code >= 500:
            raise _Retry(f"HTTP {code}", wait) from None
        if code == 416:
            raise
        if code in (404, 410):
            raise NotFoundOnServer(f"{safe_url(url)}: HTTP {code} {exc.reason}") from None
        raise FetchError(f"{safe_url(url)}: HTTP {code} {exc.reason}") from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retry(f"network error ({reason})") from None


def _waits(opts: HttpOptions) -> Any:
    """Yield the wait before each retry (exponential backoff), ``opts.retries`` of them."""
    for k in range(opts.retries):
        yield min(opts.max_wait_s, opts.backoff_s * (2**k))


def get_bytes(url: str, opts: HttpOptions | None = None, headers: Mapping[str, str] | None = None,
              max_bytes: int = 64 << 20) -> bytes:
    """The body of ``url`` (a small document), with the retry policy of the module docstring."""
    opts = opts or HttpOptions()
    path = local_path(url)
    if path is not None:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise FetchError(f"{url}: {exc.strerror or exc}") from None
    waits = _waits(opts)
    while True:
        try:
            with _open(url, headers or {}, opts) as resp:
                data: bytes = resp.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise FetchError(f"{safe_url(url)}: more than {max_bytes >> 20} MiB; not the document expected")
            return data
        except _Retry as r:
            _pause(url, r, waits, opts)
        except (TimeoutError, HTTPException, ConnectionError) as exc:
            _pause(url, _Retry(f"network error ({exc})"), waits, opts)


def get_optional(url: str, opts: HttpOptions | None = None, headers: Mapping[str, str] | None = None,
                 max_bytes: int = 64 << 20) -> bytes | None:
    """Like :func:`get_bytes`, but ``None`` when the document does not exist."""
    path = local_path(url)
    if path is not None and not path.is_file():
        return None
    try:
        return get_bytes(url, opts, headers, max_bytes)
    except NotFoundOnServer:
        return None


def _pause(url: str, r: _Retry, waits: Any, opts: HttpOptions) -> None:
    backoff = next(waits, None)
    if backoff is None:
        raise FetchError(f"{safe_url(url)}: {r} after {opts.retries} retries; try again later") from None
    wait = min(opts.max_wait_s, r.wait_s if r.wait_s is not None else backoff)
    log.warning("%s: %s; retrying in %.0f s", safe_url(url), r, wait)
    opts.sleep(wait)


def head_size(url: str, opts: HttpOptions | None = None, headers: Mapping[str, str] | None = None) -> int | None:
    """Size in bytes of the file at ``url`` (``HEAD``), ``-1`` when unknown, ``None`` when absent (404/410)."""
    opts = opts or HttpOptions()
    path = local_path(url)
    if path is not None:
        return path.stat().st_size if path.is_file() else None
    waits = _waits(opts)
    while True:
        req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": opts.user_agent, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=opts.timeout_s) as resp:
                n = resp.headers.get("Content-Length")
                return int(n) if n and n.isdigit() else -1
        except urllib.error.HTTPError as exc:
            code, wait = exc.code, retry_after_s(exc.headers.get("Retry-After")) if exc.headers else None
            exc.close()
            if code in (404, 410):
                return None
            if code == 429 or code >= 500:
                _pause(url, _Retry(f"HTTP {code}", wait), waits, opts)
                continue
            raise FetchError(f"{safe_url(url)}: HTTP {code}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException, OSError) as exc:
            _pause(url, _Retry(f"network error ({getattr(exc, 'reason', exc)})"), waits, opts)


def _hash_file(path: Path, h: Any) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
            n += len(chunk)
    return n


def _check(name: str, size: int, digest: str, expected_size: int | None, expected_sha256: str | None) -> None:
    if expected_size is not None and size != expected_size:
        raise FetchError(f"{name}: size {size:,} bytes, expected {expected_size:,} (truncated or replaced "
                         "upstream); download it again")
    if expected_sha256 and digest != expected_sha256.lower():
        raise FetchError(f"{name}: SHA-256 {digest[:16]}… does not match the published {expected_sha256[:16]}…; "
                         "the file was removed, download it again")


@dataclass
class _State:
    """A download in progress: bytes in the ``.part`` file, their hash, the expected total."""

    have: int
    h: Any
    total: int | None


def download(url: str, dest: Path, expected_size: int | None = None, expected_sha256: str | None = None,
             opts: HttpOptions | None = None, headers: Mapping[str, str] | None = None,
             progress: Callable[[int], None] | None = None) -> Downloaded:
    """Download ``url`` to ``dest`` (see the module docstring).

    ``progress(n)`` is told the number of bytes of the file on disk so far."""
    opts = opts or HttpOptions()
    local = local_path(url)
    if local is not None:
        return _local(url, local, expected_size, expected_sha256, progress)
    name = dest.name
    if dest.exists():  # finished by an earlier run: check it, keep it
        h = hashlib.sha256()
        size = _hash_file(dest, h)
        try:
            _check(name, size, h.hexdigest(), expected_size, expected_sha256)
        except FetchError:
            dest.unlink()
        else:
            if progress:
                progress(size)
            return Downloaded(url, dest, size, h.hexdigest())
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    st = _State(0, hashlib.sha256(), expected_size)
    if part.exists():
        st.have = _hash_file(part, st.h)
    if progress:
        progress(st.have)
    waits = _waits(opts)
    while st.total is None or st.have < st.total:
        before = st.have
        try:
            _transfer(url, part, st, expected_size, headers or {}, opts, progress)
        except _Retry as r:
            if st.have > before:  # progress was made: the retry budget starts again
                waits = _waits(opts)
            _pause(url, r, waits, opts)
            continue
        if st.total is None:  # the server said no length: what came is the file
            break
    digest = st.h.hexdigest()
    try:
        _check(name, st.have, digest, expected_size, expected_sha256)
    except FetchError:
        part.unlink(missing_ok=True)  # complete but wrong: resuming would keep the bad bytes
        raise
    os.replace(part, dest)
    return Downloaded(url, dest, st.have, digest)


def _transfer(url: str, part: Path, st: _State, expected_size: int | None, headers: Mapping[str, str],
              opts: HttpOptions, progress: Callable[[int], None] | None) -> None:
    """One request: append to ``part`` from byte ``st.have`` (``st`` is updated as bytes arrive)."""
    hdrs = dict(headers)
    if st.have:
        hdrs["Range"] = f"bytes={st.have}-"
    try:
        resp = _open(url, hdrs, opts)
    except urllib.error.HTTPError as exc:  # 416: nothing left to send from ``have``
        exc.close()
        if st.total is not None and st.have == st.total:
            return
        part.unlink(missing_ok=True)
        st.have, st.h = 0, hashlib.sha256()
        raise _Retry("HTTP 416: the partial file does not fit the remote one; starting again", 0.0) from None
    with resp:
        length = resp.headers.get("Content-Length")
        crange = resp.headers.get("Content-Range")
        start = 0
        if resp.status == 206 and crange:
            start, announced = _content_range(crange)
        else:
            announced = int(length) if length and length.isdigit() else None
        if st.have and start != st.have:  # Range ignored (200) or another start: begin again
            log.info("%s: the server did not resume at byte %d; starting again", safe_url(url), st.have)
            st.have, st.h = 0, hashlib.sha256()
        if announced is not None:
            if expected_size is not None and announced != expected_size:
                raise FetchError(f"{part.name.removesuffix('.part')}: the server announces {announced:,} bytes, "
                                 f"the release lists {expected_size:,}; refusing it")
            st.total = announced
        with open(part, "r+b" if st.have and part.exists() else "wb") as f:
            f.seek(st.have)
            f.truncate()
            try:
                while chunk := resp.read(CHUNK_BYTES):
                    f.write(chunk)
                    st.h.update(chunk)
                    st.have += len(chunk)
                    if progress:
                        progress(st.have)
            except (TimeoutError, HTTPException, ConnectionError, OSError) as exc:
                raise _Retry(f"transfer cut at byte {st.have:,} ({exc}); resuming") from None
    if st.total is not None and st.have < st.total:
        raise _Retry(f"transfer ended at byte {st.have:,} of {st.total:,}; resuming", 0.0)


def _content_range(value: str) -> tuple[int, int | None]:
    """``bytes 100-199/1000`` → (100, 1000); an unknown total (``*``) → None."""
    try:
        _unit, rest = value.strip().split(" ", 1)
        span, tot = rest.split("/")
        start = int(span.split("-")[0])
        return start, (None if tot.strip() == "*" else int(tot))
    except ValueError:
        raise _Retry(f"unreadable Content-Range {value!r}", 0.0) from None


def _local(url: str, path: Path, expected_size: int | None, expected_sha256: str | None,
           progress: Callable[[int], None] | None) -> Downloaded:
    if not path.is_file():
        raise FetchError(f"{path}: no such file in the local mirror")
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
            n += len(chunk)
            if progress:
                progress(n)
    _check(path.name, n, h.hexdigest(), expected_size, expected_sha256)
    return Downloaded(url, path, n, h.hexdigest())
