"""Compressed inputs (gzip, zstd, bzip2, xz) as plain byte streams that never fail silently.

:func:`codec_of` tells a codec by its magic bytes; :func:`open_decompressed` wraps a raw
stream so that

* a stream cut short (an interrupted download: the data end before the codec's
  end-of-stream marker) and corrupt data raise :class:`~sitewatch.errors.InputError`
  naming the file, the byte where its compressed data end (or went bad) and how much
  content came out before — never a bare ``EOFError`` (which click turns into "aborted"),
  and never a silently shortened stream: zstd's own stream reader returns what it has
  at a cut, so zstd is read frame by frame here and a frame left open is an error;
* every frame of a multi-frame zstd file is read (not only the first);
* closing the stream closes the file under it.

What the caller does with the error is its business: the ingest rolls the file back
(nothing of it is kept) and goes on with the next file.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

from sitewatch.errors import InputError

CODECS = ("gzip", "zstd", "bzip2", "xz")
_ZSTD_READ = 256 * 1024
_PIECE = 64 * 1024  # large reads go in pieces of this size: the content offset of an error is this exact


def codec_of(head: bytes) -> str | None:
    """The codec whose magic bytes start ``head``, or ``None``."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return None


class ZstdReader(io.RawIOBase):
    """Decompress every zstd frame of ``raw``; raise ``EOFError`` when the data end inside one."""

    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._out = b""
        self._off = 0
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._off >= len(self._out):
            chunk = self._raw.read(_ZSTD_READ)
            if not chunk:
                if self._in_frame:
                    raise EOFError("Compressed file ended before the end of a zstd frame")
                return 0
            self._out, self._off = self._feed(chunk), 0
        n = min(len(b), len(self._out) - self._off)
        b[:n] = self._out[self._off:self._off + n]
        self._off += n
        return n

    def _feed(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._obj.decompress(data))
            self._in_frame = not self._obj.eof
            data = b""
            if self._obj.eof:  # a frame ended: the rest (if any) starts the next one
                data = self._obj.unused_data
                self._obj = self._dctx.decompressobj()
        return b"".join(out)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _codec_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [EOFError, zlib.error, lzma.LZMAError, tarfile.ReadError, zipfile.BadZipFile]
    try:
        import zstandard

        errs.append(zstandard.ZstdError)
    except ImportError:  # pragma: no cover - zstandard is a dependency
        pass
    return tuple(errs)


_ERRORS = _codec_errors()


class Guarded(io.BufferedIOBase):
    """A decompressed (or archive member) stream whose data errors become :class:`InputError`.

    ``what`` names the encoding in messages ("gzip", "tar" …); ``size`` is the byte size of
    the compressed data (where a cut file ends), ``raw`` the stream under the codec (whose
    position says where corrupt data were met).
    """

    def __init__(self, inner: IO[bytes], name: str, what: str, size: int | None = None,
                 raw: IO[bytes] | None = None) -> None:
        super().__init__()
        self._inner = inner
        self._name = name
        self._what = what
        self._size = size
        self._raw = raw
        self.content_bytes = 0  # decompressed bytes handed out so far

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        """Up to ``n`` bytes (all when negative), read in pieces so an error knows where it struck."""
        want = -1 if n is None else n
        if 0 <= want <= _PIECE:
            return self._call(self._inner.read, want)
        parts = []
        while want < 0 or want > 0:
            piece = self._call(self._inner.read, _PIECE if want < 0 else min(want, _PIECE))
            if not piece:
                break
            parts.append(piece)
            want -= len(piece) if want > 0 else 0
        return b"".join(parts)

    def read1(self, n: int = -1) -> bytes:
        read1 = getattr(self._inner, "read1", None)
        return self._call(read1 if read1 is not None else self._inner.read, n)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def _call(self, fn: Callable[[int], bytes], n: int) -> bytes:
        try:
            data = fn(n)
        except _ERRORS as exc:
            raise self._error(exc) from None
        except OSError as exc:
            if exc.errno is not None:  # a real I/O error (disk, permissions): not the data's fault
                raise
            raise self._error(exc) from None
        self.content_bytes += len(data)
        return data

    def _error(self, exc: BaseException) -> InputError:
        done = f"; its first {self.content_bytes:,} bytes of content were readable" if self.content_bytes else ""
        if isinstance(exc, EOFError) or (isinstance(exc, tarfile.ReadError) and "unexpected end" in str(exc)):
            where = self._size
            why = f"the {self._what} data end early (the file is truncated, e.g. an interrupted download{done})"
        else:
            where = self._position()
            why = f"the {self._what} data are corrupt ({exc}{done})"
        return InputError(f"{why}; nothing of this file was ingested: download or copy it again",
                          path=self._name, offset=where, offset_unit="byte")

    def _position(self) -> int | None:
        try:
            return self._raw.tell() if self._raw is not None else None
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                if self._raw is not None:
                    self._raw.close()
        super().close()


def _decoder(codec: str, raw: IO[bytes]) -> IO[bytes]:
    if codec == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if codec == "zstd":
        return io.BufferedReader(ZstdReader(raw), buffer_size=1 << 16)
    if codec == "bzip2":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    if codec == "xz":
        return lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]
    raise ValueError(f"unknown codec {codec!r}")


def open_decompressed(raw: IO[bytes], codec: str, name: str, size: int | None = None) -> IO[bytes]:
    """``raw`` decoded with ``codec`` (see the module docstring); ``size``: its byte size."""
    return Guarded(_decoder(codec, raw), name, codec, size, raw)  # type: ignore[return-value]
