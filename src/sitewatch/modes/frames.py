"""Raw Mode S frames as text (hex) → an ``(N, 14)`` byte matrix, without a loop per frame.

Accepted text per frame: 14 or 28 hex digits, either case, optionally wrapped as
dump1090's raw output ``*…;`` or with surrounding blanks. Each row of the result holds
the frame's bytes left-aligned (a 56-bit frame uses the first 7 bytes); ``nbytes`` is
7, 14, or 0 for a frame that is not valid hex of a valid length — ``reason`` says why.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i
# two ASCII hex digits (read as one little-endian uint16) → their byte; 0xFFFF = not hex
_hi, _lo = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
_PAIR = np.where((_NIBBLE[_lo] == 255) | (_NIBBLE[_hi] == 255), 0xFFFF,
                 (_NIBBLE[_lo].astype(np.uint16) << 4) | _NIBBLE[_hi]).astype(np.uint16).reshape(-1)
del _hi, _lo


def from_hex(text: pa.Array | pa.ChunkedArray | Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse hex frames. Returns ``(msg (N,14) uint8, nbytes (N,) int8, reason (N,) object)``.

    ``reason`` is ``None`` for good rows, else a short text for the quarantine.
    """
    arr = text if isinstance(text, pa.Array | pa.ChunkedArray) else pa.array(list(text), pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    n = len(arr)
    offsets, data = _buffers(arr)
    widths = np.diff(offsets)
    if n and not np.isin(widths, (14, 28)).all():  # wrapped (*…;), blank-padded or bad: trim first
        arr = pc.utf8_trim(arr, characters=" \t*;")
        offsets, data = _buffers(arr)
        widths = np.diff(offsets)
    # one gather of up to 28 bytes per row straight from the Arrow buffer, "0"-padded
    pos = np.arange(28, dtype=np.int64)
    idx = offsets[:-1, None].astype(np.int64) + pos[None, :]
    inside = pos[None, :] < widths[:, None]
    chars = np.where(inside, data[np.minimum(idx, max(data.size - 1, 0))] if data.size else 48, 48)
    chars = chars.astype(np.uint8)
    lengths = pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    ascii_rows = lengths == widths  # every code point one byte
    reason = np.full(n, None, dtype=object)
    reason[~ascii_rows] = "not hexadecimal"
    pairs = _PAIR[chars.view("<u2")]  # (n, 14): one lookup per output byte
    ok_len = (lengths == 14) | (lengths == 28)
    invalid = pairs == 0xFFFF
    bad_digit = invalid.any(axis=1)
    reason[ok_len & bad_digit & ascii_rows] = "not hexadecimal"
    wrong = ~ok_len & ascii_rows
    reason[wrong] = [f"{k} hex digits, a Mode S frame has 14 or 28" for k in lengths[wrong]]
    msg = np.where(invalid, 0, pairs).astype(np.uint8)
    nbytes = np.where(ok_len & ~bad_digit & ascii_rows, lengths // 2, 0).astype(np.int8)
    return msg, nbytes, reason


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Value offsets (n + 1) and the data bytes of a string array."""
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset: arr.offset + n + 1]
    data_buf = arr.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def from_bytes(rows: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Binary frames (7 or 14 bytes each) → ``(msg, nbytes)``; other lengths get nbytes 0."""
    n = len(rows)
    msg = np.zeros((n, 14), dtype=np.uint8)
    nbytes = np.zeros(n, dtype=np.int8)
    for i, r in enumerate(rows):
        if len(r) in (7, 14):
            msg[i, : len(r)] = np.frombuffer(r, dtype=np.uint8)
            nbytes[i] = len(r)
    return msg, nbytes


def to_hex(msg: np.ndarray, nbytes: np.ndarray) -> list[str]:
    """Rows back to lowercase hex (for the quarantine and for tests)."""
    return [bytes(msg[i, : nbytes[i]]).hex() for i in range(msg.shape[0])]
