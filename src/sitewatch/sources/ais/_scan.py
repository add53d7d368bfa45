"""Vectorised scan of a chunk of NMEA text: lines, regular VDM/VDO sentences, checksums.

:func:`scan` finds, without a Python loop over lines, every line whose sentence has the
regular shape ``!ccVDx,N,K,[S],[C],PAYLOAD,F*HH`` (single-digit counts, at most one
character of sequence id and channel), wherever the ``!`` starts in the line (what is
before it, a tag block or a logger time, is the caller's business). Everything else is
returned as "irregular" line numbers for the line-by-line path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
_HEX = np.full(256, 255, dtype=np.int64)
for _i, _ch in enumerate(b"0123456789ABCDEF"):
    _HEX[_ch] = _i
for _i, _ch in enumerate(b"abcdef"):
    _HEX[_ch] = 10 + _i


@dataclass
class Scan:
    line_start: I64  # every line of the chunk
    line_end: I64  # exclusive, without \r
    line: I64  # regular sentences: their line index
    bang: I64  # offset of '!'
    frag_cnt: I64
    frag_num: I64
    seq: I64  # byte value of the sequence id, −1 when empty
    chan: I64  # byte value of the channel, −1 when empty
    pay_start: I64
    pay_len: I64
    fill: I64
    chk_ok: npt.NDArray[np.bool_]
    irregular: I64  # line indices for the slow path (non-blank, not a regular sentence)


def scan(buf: npt.NDArray[np.uint8]) -> Scan:
    n_buf = len(buf)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl + 1]).astype(np.int64)
    ends = np.concatenate([nl, [n_buf]]).astype(np.int64)
    if len(starts) and starts[-1] >= n_buf:  # text ends with a newline: no last line
        starts, ends = starts[:-1], ends[:-1]
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    ends = ends - cr
    nonblank = ends > starts
    bangs = np.flatnonzero(buf == 33)
    commas = np.flatnonzero(buf == 44)
    bi = np.searchsorted(bangs, starts)
    bang = bangs[np.minimum(bi, max(len(bangs) - 1, 0))] if len(bangs) else np.full(len(starts), -1)
    has_bang = (bi < len(bangs)) & (bang < ends) & nonblank if len(bangs) else np.zeros(len(starts), bool)
    ci = np.searchsorted(commas, bang)
    n_commas = np.searchsorted(commas, ends) - ci
    cand = has_bang & (n_commas == 6)
    li = np.flatnonzero(cand)
    c = np.stack([commas[ci[li] + k] for k in range(6)], axis=1) if len(li) else np.zeros((0, 6), np.int64)
    e = ends[li]
    b = bang[li]
    shape = (
        (c[:, 0] - b >= 6)
        & (c[:, 1] - c[:, 0] == 2) & (c[:, 2] - c[:, 1] == 2)
        & (c[:, 3] - c[:, 2] <= 2) & (c[:, 4] - c[:, 3] <= 2)
        & (e - c[:, 5] == 5)
    )
    li, c, e, b = li[shape], c[shape], e[shape], b[shape]
    vdx = ((buf[c[:, 0] - 3] == ord("V")) & (buf[c[:, 0] - 2] == ord("D"))
           & np.isin(buf[c[:, 0] - 1], (ord("M"), ord("O"))))
    cnt = buf[c[:, 0] + 1].astype(np.int64) - 48
    num = buf[c[:, 1] + 1].astype(np.int64) - 48
    fill = buf[c[:, 5] + 1].astype(np.int64) - 48
    star = buf[c[:, 5] + 2] == ord("*")
    digits = (cnt >= 0) & (cnt <= 9) & (num >= 0) & (num <= 9) & (fill >= 0) & (fill <= 9)
    ok_shape = vdx & star & digits
    li, c, e, b = li[ok_shape], c[ok_shape], e[ok_shape], b[ok_shape]
    cnt, num, fill = cnt[ok_shape], num[ok_shape], fill[ok_shape]
    seq = np.where(c[:, 3] - c[:, 2] == 2, buf[c[:, 2] + 1], -1).astype(np.int64)
    chan = np.where(c[:, 4] - c[:, 3] == 2, buf[c[:, 3] + 1], -1).astype(np.int64)
    # checksum: XOR of the bytes after '!' up to '*' (at c5 + 2), against the 2 hex digits
    xor_before = np.zeros(n_buf + 1, dtype=np.uint8)
    np.bitwise_xor.accumulate(buf, out=xor_before[1:]) if n_buf else None
    x = xor_before[c[:, 5] + 2] ^ xor_before[b + 1]
    hi, lo = _HEX[buf[c[:, 5] + 3]], _HEX[buf[c[:, 5] + 4]]
    chk_ok = (hi < 16) & (lo < 16) & (x.astype(np.int64) == hi * 16 + lo)
    regular = np.zeros(len(starts), dtype=bool)
    regular[li] = True
    irregular = np.flatnonzero(nonblank & ~regular)
    return Scan(starts, ends, li, b, cnt, num, seq, chan, c[:, 4] + 1, c[:, 5] - c[:, 4] - 1, fill,
                chk_ok, irregular)
