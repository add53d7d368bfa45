"""Transport shared by live feeds: ``HOST:PORT`` parsing, the one reconnecting TCP reader,
and a UDP listener with the same protocol.

:func:`tcp_chunks` yields the bytes of a TCP stream as they arrive, ``None`` every
``tick_s`` when nothing came (so callers can commit on time), and :data:`DISCONNECTED`
when the connection dropped (callers reset their parsers). Refused connections, resets
and end-of-stream are retried after a backoff that doubles from ``backoff_s`` to
``backoff_max_s`` and resets once data flows. :func:`udp_chunks` yields each datagram
(newline-terminated) or ``None`` every ``tick_s``. Both stop when ``stop`` is set.

Message transports (:mod:`sitewatch.live._poll` for HTTP APIs, :mod:`sitewatch.live._ws` for
WebSocket streams) yield whole messages as :class:`Document` and tell when an origin went
dark or came back with :class:`FeedState`; the loop of :mod:`sitewatch.live.base` takes
all of these.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sitewatch.errors import InputError

log = logging.getLogger(__name__)

DISCONNECTED = b"\x00disconnected\x00"


@dataclass(frozen=True)
class Document:
    """One whole message: an HTTP response body or a WebSocket message, with the request or
    area it answers (``origin``) and the wall-clock time it arrived (Unix seconds)."""

    data: bytes
    origin: str
    t_recv_s: float

    def __len__(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class FeedState:
    """``origin`` went dark (``ok`` false: ``reason`` says why) or answers again, at ``t_s``."""

    origin: str
    ok: bool
    t_s: float
    reason: str = ""


Chunk = bytes | Document | FeedState | None
"""What a transport yields: stream bytes, a whole message, a state change, or a tick."""


def parse_hostport(text: str, option: str = "HOST:PORT") -> tuple[str, int]:
    """``"127.0.0.1:30005"`` → ``("127.0.0.1", 30005)``; a clear error otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{option} {text!r} is not HOST:PORT (e.g. 127.0.0.1:30005)")
    return host.strip("[]"), int(port)


def tcp_chunks(host: str, port: int, stop: threading.Event, tick_s: float = 0.5, backoff_s: float = 0.5,
               backoff_max_s: float = 30.0, on_connect: Callable[[], None] | None = None,
               on_disconnect: Callable[[str], None] | None = None) -> Iterator[bytes | None]:
    """Bytes from ``host:port`` with reconnects (see the module docstring)."""
    wait = backoff_s
    while not stop.is_set():
        try:
            sock = socket.create_connection((host, port), timeout=max(tick_s, 1.0))
        except OSError as exc:
            if on_disconnect:
                on_disconnect(f"connect failed: {exc}")
            log.info("%s:%s: %s; retrying in %.1f s", host, port, exc, wait)
            if stop.wait(wait):
                return
            wait = min(wait * 2, backoff_max_s)
            yield None
            continue
        if on_connect:
            on_connect()
        sock.settimeout(tick_s)
        reason = "end of stream"
        try:
            while not stop.is_set():
                try:
                    data = sock.recv(1 << 16)
                except TimeoutError:
                    yield None
                    continue
                except OSError as exc:
                    reason = str(exc)
                    break
                if not data:
                    break
                wait = backoff_s  # data flows: the next outage starts from a short wait
                yield data
        finally:
            sock.close()
        if stop.is_set():
            return
        if on_disconnect:
            on_disconnect(reason)
        yield DISCONNECTED
        if stop.wait(wait):
            return
        wait = min(wait * 2, backoff_max_s)


def udp_chunks(host: str, port: int, stop: threading.Event, tick_s: float = 0.2,
               on_bind: Callable[[int], None] | None = None) -> Iterator[bytes | None]:
    """Datagrams received on ``host:port`` (``port`` 0: any free one, told to ``on_bind``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.settimeout(tick_s)
        if on_bind:
            on_bind(sock.getsockname()[1])
        while not stop.is_set():
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                yield None
                continue
            yield data if data.endswith(b"\n") else data + b"\n"
    finally:
        sock.close()
