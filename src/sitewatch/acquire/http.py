"""HTTP for fetchers: polite retries, resumable downloads, size and checksum checks.

Contract:

* :func:`get_bytes` reads a small document (a listing, a JSON manifest) with retries.
* :func:`download` writes ``url`` to ``dest`` through ``dest.part``: an interrupted transfer
  (a dropped connection, a timeout, a body cut short) resumes with an HTTP ``Range`` request
  from the bytes already on disk — also across runs, since the ``.part`` file stays; a server
  that ignores ``Range`` (200 instead of 206) or answers with another start restarts the
  file. ``429 Too Many Requests`` waits ``Retry-After`` (seconds or an HTTP date; else the
  backoff), ``5xx`` and network errors back off exponentially; other ``4xx`` fail at once.
  A host that cannot be reached at all (name not resolved, connection refused, network or
  host unreachable, connect timed out) is retried only ``connect_retries`` times (2, after
  1 s and 2 s): a dead network fails in seconds, not after the 8.5 min of the full backoff.
  A :class:`RetryBudget` shared by every request of one source (``watch run`` gives each
  source one per cycle, 30 s by default) bounds the time that source may spend failing:
  failed attempts and the waits between them are charged to it, an attempt never waits
  longer than what is left (at least 1 s), and once it is spent the next failure is a
  :class:`FetchError` at once — a server that accepts and never answers costs the budget,
  not 9 × 60 s of timeouts plus 510 s of waits.
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
import errno
import hashlib
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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


class Unreachable(FetchError):
    """The host could not be reached (name not resolved, refused, unreachable, connect timed out)."""


@dataclass
class RetryBudget:
    """Seconds a source may spend failing — failed attempts and the waits between retries —
    across all its requests (one per source and ``watch run`` cycle; see the module docstring)."""

    limit_s: float
    spent_s: float = 0.0

    def remaining_s(self) -> float:
        return max(0.0, self.limit_s - self.spent_s)

    def charge(self, seconds: float) -> None:
        self.spent_s += max(0.0, seconds)


@dataclass
class HttpOptions:
    """Timeouts and retry policy (``sleep`` is replaceable, for tests)."""

    timeout_s: float = 60.0
    retries: int = 8
    backoff_s: float = 2.0
    max_wait_s: float = 600.0
    connect_retries: int = 2  # an unreachable host: retried twice (after 1 s, 2 s), then given up
    connect_backoff_s: float = 1.0
    budget: RetryBudget | None = None
    user_agent: str = f"sitewatch/{__version__} (+https://github.com/sitewatch)"
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def with_budget(self, seconds: float) -> HttpOptions:
        """These options with a fresh :class:`RetryBudget` of ``seconds`` (shared by their requests)."""
        return replace(self, budget=RetryBudget(float(seconds)))

    def attempt_timeout_s(self) -> float:
        """The socket timeout of the next attempt: ``timeout_s``, no more than the budget left (≥ 1 s)."""
        if self.budget is None:
            return self.timeout_s
        return max(1.0, min(self.timeout_s, self.budget.remaining_s()))


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
    def __init__(self, why: str, wait_s: float | None = None, connect: bool = False, elapsed_s: float = 0.0) -> None:
        super().__init__(why)
        self.wait_s = wait_s
        self.connect = connect  # the host could not be reached at all
        self.elapsed_s = elapsed_s  # what the failed attempt cost (charged to the budget)


_UNREACHABLE_ERRNO = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN,
                      errno.EHOSTDOWN, errno.EADDRNOTAVAIL}


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (from ``urlopen``) says the host was never reached: no DNS answer,
    refused, network/host unreachable, or a connect that timed out."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror | ConnectionRefusedError):
        return True
    if isinstance(exc, urllib.error.URLError) and isinstance(reason, TimeoutError):
        return True  # urlopen wraps errors of connecting and sending; a slow answer is a bare timeout
    return isinstance(reason, OSError) and reason.errno in _UNREACHABLE_ERRNO


def network_retry(exc: BaseException, t0: float) -> _Retry:
    """The :class:`_Retry` for a network error of an attempt begun at ``t0`` (``time.monotonic``)."""
    reason = getattr(exc, "reason", exc)
    elapsed = time.monotonic() - t0
    if unreachable(exc):
        return _Retry(f"cannot reach the host ({reason})", connect=True, elapsed_s=elapsed)
    return _Retry(f"network error ({reason})", elapsed_s=elapsed)


def http_error(url: str, exc: urllib.error.HTTPError, t0: float, detail: str = "") -> Exception:
    """What an error answer means: a :class:`_Retry` (429, 5xx; with its ``Retry-After``), else a
    :class:`FetchError` (:class:`NotFoundOnServer` for 404/410) naming the URL without its query."""
    code = exc.code
    wait = retry_after_s(exc.headers.get("Retry-After")) if exc.headers else None
    if code == 429:
        return _Retry("HTTP 429 Too Many Requests", wait, elapsed_s=time.monotonic() - t0)
    if code >= 500:
        return _Retry(f"HTTP {code}", wait, elapsed_s=time.monotonic() - t0)
    if code in (404, 410):
        return NotFoundOnServer(f"{safe_url(url)}: HTTP {code} {exc.reason}{detail}")
    return FetchError(f"{safe_url(url)}: HTTP {code} {exc.reason}{detail}")


def _open(url: str, headers: Mapping[str, str], opts: HttpOptions) -> Any:
    req = urllib.request.Request(url, headers={"User-Agent": opts.user_agent, **headers})
    t0 = time.monotonic()
    try:
        return urllib.request.urlopen(req, timeout=opts.attempt_timeout_s())
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:
            raise
        raise http_error(url, exc, t0) from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException, OSError) as exc:
        raise network_retry(exc, t0) from None


class _Waits:
    """The waits of one request's retries: ``retries`` doubling from ``backoff_s``, or, for a host
    that cannot be reached, ``connect_retries`` doubling from ``connect_backoff_s``."""

    def __init__(self, opts: HttpOptions) -> None:
        self.opts = opts
        self.n = 0
        self.n_connect = 0

    def next(self, r: _Retry) -> float | None:
        o = self.opts
        if r.connect:
            self.n_connect += 1
            if self.n_connect > o.connect_retries:
                return None
            return min(o.max_wait_s, o.connect_backoff_s * 2 ** (self.n_connect - 1))
        self.n += 1
        if self.n > o.retries:
            return None
        return min(o.max_wait_s, o.backoff_s * 2 ** (self.n - 1))

    @property
    def tries(self) -> int:
        return self.n + self.n_connect


def _waits(opts: HttpOptions) -> _Waits:
    """The retry waits of one request (see :class:`_Waits`)."""
    return _Waits(opts)


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
        except (TimeoutError, HTTPException, ConnectionError) as exc:  # while reading the body
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


def _pause(url: str, r: _Retry, waits: _Waits, opts: HttpOptions) -> None:
    """Wait before the next try of ``url``, or raise when its retries or the source's budget are spent."""
    budget = opts.budget
    if budget is not None:
        budget.charge(r.elapsed_s)
    backoff = waits.next(r)
    err = Unreachable if r.connect else FetchError
    if backoff is None:
        raise err(f"{safe_url(url)}: {r} after {waits.tries - 1} retries; try again later") from None
    wait = min(opts.max_wait_s, r.wait_s if r.wait_s is not None else backoff)
    if budget is not None and budget.spent_s + wait > budget.limit_s:
        raise err(f"{safe_url(url)}: {r}; gave up after {budget.spent_s:.0f} s of failed requests and waits "
                  f"(the source's retry budget is {budget.limit_s:g} s); try again later") from None
    log.warning("%s: %s; retrying in %.0f s", safe_url(url), r, wait)
    opts.sleep(wait)
    if budget is not None:
        budget.charge(wait)


def head_size(url: str, opts: HttpOptions | None = None, headers: Mapping[str, str] | None = None) -> int | None:
    """Size in bytes of the file at ``url`` (``HEAD``), ``-1`` when unknown, ``None`` when absent (404/410)."""
    opts = opts or HttpOptions()
    path = local_path(url)
    if path is not None:
        return path.stat().st_size if path.is_file() else None
    waits = _waits(opts)
    while True:
        req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": opts.user_agent, **(headers or {})})
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=opts.attempt_timeout_s()) as resp:
                n = resp.headers.get("Content-Length")
                return int(n) if n and n.isdigit() else -1
        except urllib.error.HTTPError as exc:
            exc.close()
            err = http_error(url, exc, t0)
            if isinstance(err, NotFoundOnServer):
                return None
            if isinstance(err, _Retry):
                _pause(url, err, waits, opts)
                continue
            raise err from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, HTTPException, OSError) as exc:
            _pause(url, network_retry(exc, t0), waits, opts)


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
            if st.have > before:  # progress was made: the retries start again, the time was not lost
                waits = _waits(opts)
                r.elapsed_s = 0.0
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
