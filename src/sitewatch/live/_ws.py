"""A WebSocket client (RFC 6455) for push feeds such as aisstream.io, on the standard library.

No WebSocket package is installed with sitewatch (adding one means re-pinning the hashed
requirements), and a client needs little: the opening handshake (``Sec-WebSocket-Accept``
checked), masked frames out, unmasked frames in (fragments joined, ping answered with pong,
close answered), over TCP or TLS (``wss://``, certificates verified).

Contract: :func:`connect` opens a :class:`Connection`; :meth:`Connection.recv` returns one
whole message (text or binary, as bytes), ``None`` when nothing came within the socket's
timeout (a partial frame is kept for the next call), and raises :class:`Closed` when the
peer closes or the connection breaks. :func:`messages` is the reconnecting transport:
connect, send the subscription, yield each message as a
:class:`~sitewatch.live._net.Document` (``None`` every ``tick_s``), and on a failure yield a
:class:`~sitewatch.live._net.FeedState` (dark), back off (doubling from ``backoff_s`` to
``backoff_max_s``, reset once messages flow) and connect again. The subscription (it holds
the key) is sent, never logged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sitewatch.errors import SitewatchError
from sitewatch.live._net import Chunk, Document, FeedState

log = logging.getLogger(__name__)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE_BYTES = 16 << 20
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """The connection ended (``code`` from the peer's close frame, when it sent one)."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


class HandshakeRefused(SitewatchError, ConnectionError):
    """The server answered the opening handshake with an HTTP status other than 101."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}".strip())
        self.status = status


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def encode_frame(opcode: int, payload: bytes, mask: bytes | None) -> bytes:
    """One final frame; ``mask`` (4 bytes) for a client's frames, ``None`` for a server's."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + _masked(payload, mask)


def _masked(data: bytes, mask: bytes) -> bytes:
    if not data:
        return b""
    m = (mask * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(len(data), "big")


def decode_frame(buf: bytes | bytearray) -> tuple[bool, int, bytes, int] | None:
    """(fin, opcode, payload, bytes used) of the first frame in ``buf``; ``None`` if incomplete."""
    if len(buf) < 2:
        return None
    fin, opcode = bool(buf[0] & 0x80), buf[0] & 0x0F
    masked, n = bool(buf[1] & 0x80), buf[1] & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = struct.unpack("!H", bytes(buf[2:4]))[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = struct.unpack("!Q", bytes(buf[2:10]))[0], 10
    if n > MAX_MESSAGE_BYTES:
        raise Closed(f"frame of {n:,} bytes is over the {MAX_MESSAGE_BYTES >> 20} MiB limit", 1009)
    mask = b""
    if masked:
        if len(buf) < pos + 4:
            return None
        mask, pos = bytes(buf[pos:pos + 4]), pos + 4
    if len(buf) < pos + n:
        return None
    payload = bytes(buf[pos:pos + n])
    return fin, opcode, (_masked(payload, mask) if masked else payload), pos + n


class Connection:
    """An open WebSocket (see the module docstring)."""

    def __init__(self, sock: socket.socket, rest: bytes = b"") -> None:
        self.sock = sock
        self._buf = bytearray(rest)
        self._parts: list[bytes] = []
        self._opcode = OP_TEXT

    def send_text(self, text: str) -> None:
        self.sock.sendall(encode_frame(OP_TEXT, text.encode("utf-8"), os.urandom(4)))

    def recv(self) -> bytes | None:
        """One whole message; ``None`` on a read timeout; :class:`Closed` when it ended."""
        while True:
            fr = decode_frame(self._buf)
            if fr is None:
                try:
                    data = self.sock.recv(1 << 16)
                except (TimeoutError, ssl.SSLWantReadError):
                    return None
                except OSError as exc:
                    raise Closed(f"connection lost ({exc})") from None
                if not data:
                    raise Closed("connection closed without a close frame")
                self._buf += data
                continue
            fin, opcode, payload, used = fr
            del self._buf[:used]
            if opcode == OP_PING:
                self._control(OP_PONG, payload)
            elif opcode == OP_PONG:
                pass
            elif opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                why = payload[2:].decode("utf-8", "replace")
                self._control(OP_CLOSE, payload[:2])
                raise Closed(f"closed by the server ({code}{': ' + why if why else ''})", code)
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if opcode != OP_CONT:
                    self._parts, self._opcode = [], opcode
                self._parts.append(payload)
                if sum(len(p) for p in self._parts) > MAX_MESSAGE_BYTES:
                    raise Closed("message over the size limit", 1009)
                if fin:
                    msg, self._parts = b"".join(self._parts), []
                    return msg
            else:
                raise Closed(f"unknown frame opcode {opcode:#x}", 1002)

    def _control(self, opcode: int, payload: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(encode_frame(opcode, payload, os.urandom(4)))

    def close(self) -> None:
        self._control(OP_CLOSE, struct.pack("!H", 1000))
        self.sock.close()


def connect(url: str, timeout_s: float = 10.0, headers: Mapping[str, str] | None = None) -> Connection:
    """Open ``ws://`` or ``wss://`` ``url`` (see the module docstring)."""
    p = urllib.parse.urlsplit(url)
    if p.scheme not in ("ws", "wss") or not p.hostname:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    port = p.port or (443 if p.scheme == "wss" else 80)
    sock = socket.create_connection((p.hostname, port), timeout=timeout_s)
    try:
        if p.scheme == "wss":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=p.hostname)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        path = (p.path or "/") + (f"?{p.query}" if p.query else "")
        host = p.hostname if p.port is None else f"{p.hostname}:{p.port}"
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
                 *(f"{k}: {v}" for k, v in (headers or {}).items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(4096)
            if not data:
                raise Closed("connection closed during the handshake")
            buf += data
            if len(buf) > 65536:
                raise Closed("handshake answer over 64 KiB")
        head, rest = buf.split(b"\r\n\r\n", 1)
        status_line, *hdr_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status != 101:
            raise HandshakeRefused(status, parts[2] if len(parts) > 2 else "")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in hdr_lines)}
        if hdrs.get("sec-websocket-accept") != accept_key(key):
            raise Closed("the server's Sec-WebSocket-Accept does not match the key: not a WebSocket server")
        return Connection(sock, rest)
    except BaseException:
        sock.close()
        raise


@dataclass
class WsOptions:
    tick_s: float = 0.5
    timeout_s: float = 10.0
    backoff_s: float = 1.0
    backoff_max_s: float = 120.0


def messages(url: str, origin: str, subscription: Callable[[], str], stop: threading.Event,
             opts: WsOptions, on_refused: Callable[[HandshakeRefused, bool], None] | None = None) -> Iterator[Chunk]:
    """Messages of ``url`` with reconnects (see the module docstring).

    ``on_refused(error, answered_before)`` may raise to end the stream on a refused
    handshake (a bad key is not worth retrying before anything was ever received)."""
    wait = opts.backoff_s
    answered = False
    while not stop.is_set():
        conn: Connection | None = None
        try:
            conn = connect(url, opts.timeout_s)
            conn.sock.settimeout(opts.tick_s)
            conn.send_text(subscription())
            while not stop.is_set():
                msg = conn.recv()
                if msg is None:
                    yield None
                    continue
                answered = True
                wait = opts.backoff_s
                yield Document(msg, origin, time.time())
            return
        except HandshakeRefused as exc:
            if on_refused is not None:
                on_refused(exc, answered)
            reason = f"handshake refused: {exc}"
        except (Closed, OSError, ValueError) as exc:
            reason = str(exc)
        finally:
            if conn is not None:
                conn.close()
        if stop.is_set():
            return
        log.warning("%s: %s; reconnecting in %.0f s", url, reason, wait)
        yield FeedState(origin, False, time.time(), reason)
        if stop.wait(wait):
            return
        wait = min(wait * 2, opts.backoff_max_s)
