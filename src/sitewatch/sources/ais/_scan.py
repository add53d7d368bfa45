"""Vectorised scan of a chunk of NMEA text: lines, regular VDM/VDO sentences, checksums.

:func:`scan` finds, without a Python loop over lines, every line whose sentence has the
regular shape ``!ttVDx,N,K,[S],[C],PAYLOAD,F*HH`` (two-letter talker, single-digit counts,
at most one character of sequence id and channel), found by position — the ``!`` (or the
``$`` of the non-encapsulated ``$AIVDM`` form some feeds write) at the start of the line, or
the ``!`` after a prefix (a tag block or a logger time: the caller's business). The
sentence may be followed by a suffix after its checksum (``…*08,raishub,1342569600``, as
AISHub writes: receiver and UNIX time), whose start is returned (``suffix``) for the caller
to read. A comma inside the payload is left to the decoder, which rejects it as a bad
character. Everything else is returned as "irregular" line numbers for the line-by-line path.
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
    suffix: I64  # regular sentences: where the text after the checksum starts (= line end when none)


def scan(data: bytes) -> tuple[npt.NDArray[np.uint8], Scan]:
    """(the chunk as a uint8 array, what was found in it)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    n_buf = len(buf)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl + 1]).astype(np.int64)
    ends = np.concatenate([nl, [n_buf]]).astype(np.int64)
    if len(starts) and starts[-1] >= n_buf:  # text ends with a newline: no last line
        starts, ends = starts[:-1], ends[:-1]
    if n_buf == 0:
        z = np.zeros(0, dtype=np.int64)
        return buf, Scan(z, z, z, z, z, z, z, z, z, z, z, np.zeros(0, bool), z, z)
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    ends = ends - cr
    nonblank = ends > starts
    # where the sentence starts: the first byte, or after a prefix (tag block, logger time)
    first = buf[np.minimum(starts, n_buf - 1)]
    bang = np.where(nonblank & ((first == 33) | (first == 36)), starts, -1)  # '!' or '$'
    for k in np.flatnonzero(nonblank & (first != 33) & ((first == 92) | ((first >= 48) & (first <= 57)))).tolist():
        bang[k] = data.find(b"!", int(starts[k]), int(ends[k]))
    # the regular shape, by position: !ttVDx,N,K,[S],[C],PAYLOAD,F*HH
    cand = (bang >= 0) & (ends - bang >= 18)  # '!AIVDM,1,1,,,,0*hh' is the shortest
    li = np.flatnonzero(cand)
    b, e = bang[li], ends[li]
    ok, cols = _shape(buf, b, e)
    # lines that failed only because text follows the checksum: cut there, try again
    retry = np.flatnonzero(~ok)
    retry = retry[buf[e[retry] - 3] != 42]  # a bare sentence has its '*' there
    if retry.size:
        e2 = _sentence_ends(data, buf, b[retry], e[retry])
        moved = (e2 < e[retry]) & (e2 - b[retry] >= 18)
        retry, e2 = retry[moved], e2[moved]
        ok2, cols2 = _shape(buf, b[retry], e2)
        retry, e2 = retry[ok2], e2[ok2]
        ok[retry] = True
        e[retry] = e2
        for c, c2_ in zip(cols, cols2, strict=True):
            c[retry] = c2_[ok2]
    c2, c3, c4, c5, cnt, num, fill = cols
    li, b, e, c2, c3, c4, c5, cnt, num, fill = (x[ok] for x in (li, b, e, c2, c3, c4, c5, cnt, num, fill))
    # int64 before choosing: np.where(…, uint8, -1) would give 255 for an empty field, a key
    # the line-by-line path (−1) does not share — fragments of one message would not meet
    seq = np.where(c3 - c2 == 2, buf[c2 + 1].astype(np.int64), -1)
    chan = np.where(c4 - c3 == 2, buf[c3 + 1].astype(np.int64), -1)
    # checksum: XOR of the bytes after '!' up to '*' (at c5 + 2), one reduce over all sentences
    if len(li):
        bounds = np.empty(2 * len(li), dtype=np.int64)
        bounds[0::2] = b + 1
        bounds[1::2] = c5 + 2
        x = np.bitwise_xor.reduceat(buf, bounds)[0::2].astype(np.int64)
    else:
        x = np.zeros(0, dtype=np.int64)
    hi, lo = _HEX[buf[c5 + 3]], _HEX[buf[c5 + 4]]
    chk_ok = (hi < 16) & (lo < 16) & (x == hi * 16 + lo)
    regular = np.zeros(len(starts), dtype=bool)
    regular[li] = True
    irregular = np.flatnonzero(nonblank & ~regular)
    return buf, Scan(starts, ends, li, b, cnt, num, seq, chan, c4 + 1, c5 - c4 - 1, fill, chk_ok, irregular, e)


def _shape(buf: npt.NDArray[np.uint8], b: I64, e: I64) -> tuple[npt.NDArray[np.bool_], list[I64]]:
    """Whether each sentence ``[b, e)`` has the regular shape, and its comma positions
    ``c2, c3, c4, c5`` (before the sequence id, channel, payload, fill bits), counts and fill."""

    def at(i: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        return buf[i]  # every probe below lies in [bang, end) of a line at least 18 bytes long

    c0 = b + 6
    c2 = c0 + 4
    c3 = np.where(at(c2 + 1) == 44, c2 + 1, c2 + 2)
    c4 = np.where(at(c3 + 1) == 44, c3 + 1, c3 + 2)
    c5 = e - 5
    shape = (
        (at(c0) == 44) & (at(c0 + 2) == 44) & (at(c2) == 44) & (at(c3) == 44) & (at(c4) == 44)
        & (at(c5) == 44) & (c5 > c4) & (at(c5 + 2) == ord("*"))
        & (at(b + 3) == ord("V")) & (at(b + 4) == ord("D")) & ((at(b + 5) == ord("M")) | (at(b + 5) == ord("O")))
    )
    cnt = at(b + 7).astype(np.int64) - 48
    num = at(b + 9).astype(np.int64) - 48
    fill = at(c5 + 1).astype(np.int64) - 48
    ok = shape & (cnt >= 0) & (cnt <= 9) & (num >= 0) & (num <= 9) & (fill >= 0) & (fill <= 9)
    return ok, [c2, c3, c4, c5, cnt, num, fill]


_FEW_SUFFIXES = 256  # below this many lines to search, a find per line beats a pass over the chunk


def _sentence_ends(data: bytes, buf: npt.NDArray[np.uint8], b: I64, e: I64) -> I64:
    """End of the sentence in each line ``[b, e)``: where a suffix after the checksum begins
    (the last ``*`` of the line followed by two characters and a comma), else the line end."""
    if b.size < _FEW_SUFFIXES:
        star = np.array([data.rfind(b"*", x, y) for x, y in zip(b.tolist(), e.tolist(), strict=True)],
                        dtype=np.int64)
    else:
        stars = np.flatnonzero(buf == 42)
        j = np.searchsorted(stars, e) - 1
        star = np.where(j >= 0, stars[np.maximum(j, 0)], -1)
    ok = (star >= b) & (star + 3 < e)
    ok[ok] = buf[star[ok] + 3] == 44
    return np.where(ok, star + 3, e)
