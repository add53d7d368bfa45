"""Vectorised reading of readsb trace documents — exactly the reference reading, or nothing.

Contract: :func:`split` cuts a document into its header (everything but ``trace``, parsed by
:mod:`json`) and the text of its points, or returns ``None`` when the document is not in the
layout readsb writes (``"trace":[`` last, one point per line). :func:`parse` reads the points
of many such documents at once with NumPy and Arrow (no Python per point) and returns their
:class:`~sitewatch.sources.adsb._trace_cols.TraceCols` plus, per document, whether it could be
read this way. For a document it accepts, the columns are *equal* to those of the reference
reader :func:`~sitewatch.sources.adsb._trace_cols.from_doc` (same floats: both parse decimal
text with correct rounding; same forward-filled callsign/squawk; same status). A document it
refuses — anything outside readsb's own output: escapes, nested objects in ``details``,
strings or booleans where numbers belong, a point that the reference reader would
quarantine, points not one per line … — is read by the reference reader instead, so the
result never depends on which path read it.

Left to the reference reader's JSON parser, i.e. *not* re-checked here (readsb never writes
them): invalid JSON inside a ``details`` object or after a point's source field, numbers like
``1.e5``, and a key repeated inside one ``details`` object (JSON leaves its meaning open; this
reader takes the first, Python's :mod:`json` the last). With a filter, a document whose
aircraft it drops on positions alone is not read past each point's longitude (:func:`_not_kept`).

How: the documents' point texts are joined in one buffer; newline and comma positions
(``flatnonzero``) give each point's first eight fields, ``{``/``}`` positions its ``details``
object, and an Arrow ``string`` array laid over the buffer (offsets only, no copy) is cast to
``float64`` in one call. ``flight``/``squawk`` are found with Arrow substring search inside the
``details`` objects and forward-filled with ``maximum.accumulate``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

from sitewatch.sources.adsb._trace_cols import Points, TraceCols

_WS = frozenset(b" \t\r\n")
_NL, _COMMA, _LBR, _RBR, _LSQ, _RSQ, _QUOTE, _SPACE = 10, 44, 123, 125, 91, 93, 34, 32
_DIGITS = np.zeros(256, bool)
_DIGITS[48:58] = True
_NUM_FIRST = _DIGITS.copy()
_NUM_FIRST[ord("-")] = True
_ELEMENT_BEFORE = np.zeros(256, bool)  # what may come right before an array that is an array's element
_ELEMENT_BEFORE[list(b", \t\r\n")] = True
I8 = np.int64


@dataclass
class Doc:
    """One trace document cut in two: the parsed header and the text of its points."""

    header: dict[str, Any]
    body: bytes  # from the newline after "trace":[ to the end of the last point ('' when no point)


def split(data: bytes) -> Doc | None:
    """Header and points text of a document in readsb's layout, else ``None``."""
    k = data.find(b'"trace":[')
    if k < 0:
        return None
    j = k + 9  # first byte after '['
    e = len(data)
    while e and data[e - 1] in _WS:
        e -= 1
    if not e or data[e - 1] != _RBR:  # the document's closing '}'
        return None
    e -= 1
    while e > j and data[e - 1] in _WS:
        e -= 1
    if e <= j or data[e - 1] != _RSQ:  # the trace array's closing ']'
        return None
    b = e - 1
    while b > j and data[b - 1] in _WS:
        b -= 1
    try:
        header = json.loads(data[:k] + b'"trace":[]}')
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
        return None
    if not isinstance(header, dict) or "timestamp" not in header:
        return None
    body = data[j:b]
    if body and body[0] != _NL:
        return None
    if b"\\" in body:  # escapes: leave the strings to the JSON parser
        return None
    return Doc(header, body)


def _str_array(buf: pa.Buffer, offsets: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Arrow strings ``buf[offsets[i]:offsets[i+1]]`` laid over ``buf`` (no copy), null where not ``valid``.

    int32 offsets make a ``string`` array, int64 ones a ``large_string``."""
    n = len(offsets) - 1
    typ = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    bits = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = 0 if valid is None else n - int(np.count_nonzero(valid))
    return pa.Array.from_buffers(typ, n, [bits, pa.py_buffer(offsets), buf], null_count=nulls)


def _spans(starts: np.ndarray, ends: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Offsets making entry ``2i`` = ``[starts[i], ends[i])``; odd entries are the gaps between.

    The ``valid`` spans must interleave in order (``ends[i] <= starts[j]`` for valid ``i < j``);
    the others (null entries, whatever their bounds) become empty spans at the end of the valid
    span before them, so that the offsets never decrease (a lone line whose point has no source
    string once made its span end before it began, and Arrow refused the whole chunk)."""
    if valid is not None and not valid.all():
        before = np.r_[0, np.maximum.accumulate(np.where(valid, ends, 0))[:-1]].astype(ends.dtype)
        starts, ends = np.where(valid, starts, before), np.where(valid, ends, before)
    out = np.empty(2 * len(starts) + 1, starts.dtype if starts.dtype == np.int32 else I8)
    out[0:-1:2] = starts
    out[1::2] = ends
    out[-1] = out[-2] if len(ends) else 0
    return out


def _encoded(pbuf: pa.Buffer, starts: np.ndarray, ends: np.ndarray, valid: np.ndarray
             ) -> tuple[list[str], np.ndarray]:
    """The strings ``[starts[i], ends[i])`` dictionary-encoded: (distinct words, code per string, -1
    where not ``valid``). Encoded where they lie in ``pbuf``: no string is copied out."""
    n = len(starts)
    v = np.zeros(2 * n, bool)
    v[0::2] = valid
    idx = _str_array(pbuf, _spans(starts, ends, valid), v).dictionary_encode()
    ind = idx.indices
    raw = np.frombuffer(ind.buffers()[1], np.int32, len(ind) + ind.offset)[ind.offset::2]
    return idx.dictionary.to_pylist(), np.where(valid, raw, -1).astype(I8)


def _low_bits(words: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` lowest set bits of each uint64 (-1 where fewer are set)."""
    out = np.empty((len(words), k), I8)
    x = words.copy()
    one = np.uint64(1)
    for j in range(k):
        low = x & (~x + one)
        out[:, j] = np.frexp(low.astype(np.float64))[1].astype(I8) - 1
        x ^= low
    return out


def _bits(mask: np.ndarray) -> np.ndarray:
    """A (n, 64) boolean matrix as one uint64 per row (column j = bit j)."""
    return np.packbits(mask, axis=1, bitorder="little").view("<u8").ravel()


_PAD = 256  # zero bytes around the joined bodies: every window and gather stays inside
_W = 64  # prefix window: the eight scalar fields of a readsb point fit in it


@dataclass
class _Joined:
    """The points text of documents joined in one zero-padded buffer, and its lines: one per
    newline (``nl``), of document ``member``, its point from ``ps`` (the ``[`` after the first
    line's ``indent``) to ``pe`` (its ``]``: the line ends with ``,`` but for a document's
    ``last``)."""

    pbuf: pa.Buffer
    buf: np.ndarray  # the same bytes
    size: int  # bytes before the trailing padding
    bstart: np.ndarray  # each document's first byte
    lens: np.ndarray
    nl: np.ndarray
    member: np.ndarray
    last: np.ndarray
    line_e: np.ndarray
    indent: int
    ps: np.ndarray
    pe: np.ndarray

    @property
    def n(self) -> int:
        return len(self.nl)

    @classmethod
    def of(cls, docs: list[Doc]) -> _Joined:
        nd = len(docs)
        lens = np.fromiter((len(d.body) for d in docs), I8, nd)
        bstart = _PAD + np.r_[0, np.cumsum(lens)][:-1].astype(I8)
        pad = b"\0" * _PAD
        data = b"".join([pad, *(d.body for d in docs), pad])
        buf = np.frombuffer(data, np.uint8)
        size = len(buf) - _PAD
        nl = np.flatnonzero(buf == _NL)
        member = np.searchsorted(bstart, nl, side="right") - 1
        last = np.r_[member[1:] != member[:-1], True] if len(nl) else np.zeros(0, bool)
        line_e = np.r_[nl[1:], size].astype(I8) if len(nl) else np.zeros(0, I8)
        indent = 0
        if len(nl):
            first = data[nl[0] + 1:line_e[0]]
            indent = len(first) - len(first.lstrip(b" "))
        ps = nl + 1 + indent
        pe = line_e - 1 - (~last).astype(I8)
        return cls(pa.py_buffer(data), buf, size, bstart, lens, nl, member, last, line_e, indent, ps, pe)


def parse(docs: list[Doc], keep: Callable[[Points], np.ndarray] | None = None
          ) -> tuple[TraceCols, np.ndarray, np.ndarray, np.ndarray]:
    """Columns of the points of ``docs``, and per document: read?, dropped by ``keep``?, points dropped.

    The columns hold only the points of documents read (and kept); ``member`` indexes ``docs``.
    ``keep(points)`` — per document, keep its aircraft? — is asked first on the positions alone
    (:func:`_not_kept`: the documents it drops are read no further), then, for the others, right
    after their latitudes and longitudes are read, so that the rest of the work is done for the
    aircraft kept only.
    """
    if keep is None or not docs:
        return _parse(docs, keep)
    joined = _Joined.of(docs)
    early, lines = _not_kept(joined, keep)
    if not early.any():
        return _parse(docs, keep, joined)
    rest = np.flatnonzero(~early)
    nd = len(docs)

    def keep_rest(p: Points) -> np.ndarray:
        return np.asarray(keep(Points(p.lat, p.lon, rest[p.member])), bool)[rest]

    cols, ok_r, dropped_r, dpts_r = _parse([docs[i] for i in rest], keep_rest)
    cols.member = rest[cols.member]
    ok, dropped, dpts = np.ones(nd, bool), early.copy(), np.zeros(nd, I8)
    ok[rest], dropped[rest], dpts[rest] = ok_r, dropped_r, dpts_r
    dpts[early] = lines[early]  # one point per line
    return cols, ok, dropped, dpts


def _not_kept(j: _Joined, keep: Callable[[Points], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per document: dropped by ``keep`` on its positions alone — read no further —, and its lines.

    Only a document whose every line is one point (the line's first byte ``[``, its last ``]``,
    no other array on the line but the values of keys in its ``details``) and whose points'
    first three fields are JSON numbers or ``null`` (a string there could hold the commas that
    delimit them) is judged here, on all its points' latitudes and longitudes, exactly as the
    reference reader's filter judges them; any other document is left to :func:`_parse`. What
    lies after a dropped point's longitude is not read, so invalid JSON there is not found (the
    reference reader would quarantine the member): the filter drops that aircraft either way."""
    nd, n, buf, member, ps, pe = len(j.lens), j.n, j.buf, j.member, j.ps, j.pe
    early = np.zeros(nd, bool)
    lines = np.bincount(member, minlength=nd)
    if n == 0 or j.indent > 32:
        return early, lines
    ok = ((pe - ps) >= 2) & (buf[ps] == _LSQ) & (buf[pe] == _RSQ) & (j.last | (buf[j.line_e - 1] == _COMMA))
    win = sliding_window_view(buf, _W)[ps]
    cpos = _low_bits(_bits(win == _COMMA), 3)
    ok &= (cpos[:, 2] >= 0) & (cpos[:, 2] < pe - ps)
    ts = np.column_stack([np.ones(n, I8), cpos[:, :2] + 1])
    te = np.where(cpos < 0, ts, cpos)
    fb = np.take_along_axis(win, np.minimum(ts, _W - 1), 1)
    num = _NUM_FIRST[fb] & (te > ts)
    null = (fb == ord("n")) & (te - ts == 4)
    for m, ch in enumerate(b"ull", start=1):
        null &= np.take_along_axis(win, np.minimum(ts + m, _W - 1), 1) == ch
    ok &= (num | null).all(axis=1)
    doc_ok = (lines > 0) & ~(np.bincount(member[~ok], minlength=nd) > 0)
    lsq = np.flatnonzero(buf == _LSQ)
    if len(lsq) != n:  # arrays in details objects (nav_modes), or a second point on a line?
        # an array that is an element of an array follows a ',' or whitespace; one that is the
        # value of a key follows its ':'. One such per line: the point.
        elem = lsq[_ELEMENT_BEFORE[buf[lsq - 1]]]
        doc_ok &= (np.searchsorted(elem, j.bstart + j.lens) - np.searchsorted(elem, j.bstart)) == lines
    rows = np.flatnonzero(doc_ok[member])
    if not len(rows):
        return early, lines
    ab = (ps[rows, None] + ts[rows, 1:]).ravel()
    ae = (ps[rows, None] + te[rows, 1:]).ravel()
    off = np.int32 if len(buf) < 2**31 else I8
    ll = _cast_numbers(j.pbuf, ab.astype(off), ae.astype(off), num[rows, 1:].ravel(), member[rows],
                       doc_ok, 2).reshape(len(rows), 2)
    sel = np.flatnonzero(doc_ok[member[rows]])  # a document whose numbers Arrow cannot read is not judged
    kept = np.asarray(keep(Points(ll[sel, 0], ll[sel, 1], member[rows[sel]])), bool)
    return doc_ok & ~kept, lines


def _parse(docs: list[Doc], keep: Callable[[Points], np.ndarray] | None = None, joined: _Joined | None = None
           ) -> tuple[TraceCols, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`parse`, reading every document (``keep`` asked after latitudes and longitudes);
    ``joined``: the documents' lines when already found."""
    j = joined or _Joined.of(docs)
    nd, n, pbuf, buf, size, bstart, lens = len(docs), j.n, j.pbuf, j.buf, j.size, j.bstart, j.lens
    no_drop = np.zeros(nd, bool), np.zeros(nd, I8)
    if n == 0:
        return _empty(), np.ones(nd, bool), *no_drop
    if j.indent > 32:
        return _empty(), np.zeros(nd, bool), *no_drop
    member, last, line_s, line_e, indent, ps, pe = j.member, j.last, j.nl + 1, j.line_e, j.indent, j.ps, j.pe
    bad = (pe - ps) < 2
    if indent:
        bad |= (buf[line_s] != _SPACE) | (buf[ps - 1] != _SPACE)
    bad |= (buf[ps] != _LSQ) | (buf[pe] != _RSQ) | (~last & (buf[line_e - 1] != _COMMA))
    # the eight scalar fields: commas of a 64-byte window from the '['
    win = sliding_window_view(buf, _W)[ps]
    cpos = _low_bits(_bits(win == _COMMA), 8)
    bad |= (cpos[:, 7] < 0) | (cpos[:, 7] >= pe - ps)
    ts = np.empty((n, 8), I8)
    ts[:, 0] = 1
    ts[:, 1:] = cpos[:, :7] + 1
    te = np.where(cpos < 0, ts, cpos)
    tl = te - ts
    fb = np.take_along_axis(win, np.minimum(ts, _W - 1), 1)
    # in JSON, numbers start with '-' or a digit, null is the only token starting with 'n', and the
    # one string allowed here is "ground" (the altitude of a point on the ground)
    is_null = (fb == ord("n")) & (tl == 4)
    is_num = _NUM_FIRST[fb] & (tl > 0)
    g = np.flatnonzero((tl[:, 3] == 8) & (fb[:, 3] == _QUOTE))
    ground = np.zeros(n, bool)
    if len(g):
        gw = win[g[:, None], np.minimum(ts[g, 3][:, None] + np.arange(8), _W - 1)]
        ground[g[(gw == np.frombuffer(b'"ground"', np.uint8)).all(axis=1)]] = True
    ok_tok = is_num | is_null
    ok_tok[:, 3] |= ground
    bad |= ~ok_tok.all(axis=1) | ~is_num[:, 0]  # dt is required
    # details: null, or one object from the '{' to the line's last '}'
    ds = ps + cpos[:, 7] + 1
    d0 = buf[ds]
    dnull = d0 == ord("n")
    dn = np.flatnonzero(dnull)
    for m, ch in enumerate(b"ull", start=1):
        dnull[dn] &= buf[ds[dn] + m] == ch
    ddict = d0 == _LBR
    # an object ends at the line's last '}': the lowest '}' bit of the window ending at the ']', reversed
    dr = np.flatnonzero(ddict)
    de = np.full(n, -1, I8)
    if len(dr):
        back = sliding_window_view(buf, _W)[pe[dr] - (_W - 1)][:, ::-1]
        k = _low_bits(_bits(back == _RBR), 1)[:, 0]
        de[dr] = np.where(k >= 0, pe[dr] - k, -1)
    bad |= ~(dnull | ddict) | (ddict & (de <= ds))
    after = np.where(ddict, de + 1, ds + 4)
    # the tail: source type, then numbers; no bracket or brace up to the ']'
    tlen = pe - after
    bad |= (tlen < 0) | (tlen >= _W)
    tw = sliding_window_view(buf, _W)[np.minimum(after, size)]
    tmask = (np.uint64(1) << np.clip(tlen, 0, 63).astype(np.uint64)) - np.uint64(1)
    bad |= (_bits(tw == _LSQ) & tmask) != 0  # a '[' after the details: not one point per line
    has_src = tlen > 0
    bad |= has_src & (tw[:, 0] != _COMMA)
    c1 = tw[:, 1]
    q = _low_bits(_bits(tw == _QUOTE) >> np.uint64(2), 1)[:, 0] + 2  # closing quote of a string
    src_str = has_src & (c1 == _QUOTE) & (q >= 2) & (q < tlen)
    src_str &= (q + 1 == tlen) | (np.take_along_axis(tw, np.minimum(q + 1, _W - 1)[:, None], 1)[:, 0] == _COMMA)
    src_null = has_src & (tlen >= 5) & (c1 == ord("n")) & (tw[:, 2] == ord("u")) & (tw[:, 3] == ord("l"))
    src_null &= (tw[:, 4] == ord("l")) & ((tlen == 5) | (tw[:, 5] == _COMMA))
    src_num = has_src & _NUM_FIRST[c1]
    bad |= has_src & ~(src_str | src_null | src_num)
    # every '{' of a body opens one details object (none nested, none in strings)
    ok_doc = np.ones(nd, bool)
    if int(np.count_nonzero(buf == _LBR)) != len(dr):  # somewhere not: find the documents
        lbr = np.flatnonzero(buf == _LBR)
        n_l = np.searchsorted(lbr, bstart + lens) - np.searchsorted(lbr, bstart)
        ok_doc &= n_l == np.bincount(member[ddict], minlength=nd)
    ok_doc &= ~(np.bincount(member[bad], minlength=nd) > 0)
    good = ok_doc[member]
    row0 = (np.arange(n, dtype=np.int32) * _W)[:, None]
    wbuf = pa.py_buffer(np.ascontiguousarray(win))
    dropped, dropped_pts = no_drop
    if keep is not None:  # latitude and longitude first: the filter decides who is read further
        ll = _cast_numbers(wbuf, (row0 + ts[:, 1:3]).astype(np.int32).ravel(),
                           (row0 + np.minimum(te[:, 1:3], _W)).astype(np.int32).ravel(),
                           (is_num[:, 1:3] & good[:, None]).ravel(), member, ok_doc, 2).reshape(n, 2)
        good = ok_doc[member]
        sel0 = np.flatnonzero(good)
        kept = np.asarray(keep(Points(ll[sel0, 0], ll[sel0, 1], member[sel0])), bool)
        dropped = ok_doc & ~kept
        dropped_pts = np.bincount(member, minlength=nd) * dropped
        ok_doc &= kept
        good = ok_doc[member]
        keep_rows = np.flatnonzero(good)
        if len(keep_rows) < n:  # from here on, only the lines of the aircraft kept
            n = len(keep_rows)
            member, ts, te, is_num, is_null, ground = (member[keep_rows], ts[keep_rows], te[keep_rows],
                                                       is_num[keep_rows], is_null[keep_rows], ground[keep_rows])
            ds, de, ddict, after, q = ds[keep_rows], de[keep_rows], ddict[keep_rows], after[keep_rows], q[keep_rows]
            src_str, win, good = src_str[keep_rows], win[keep_rows], good[keep_rows]
            row0 = (np.arange(n, dtype=np.int32) * _W)[:, None]
            wbuf = pa.py_buffer(np.ascontiguousarray(win))
    # the numbers: one Arrow cast over the prefix windows (a contiguous copy: row r at r·64)
    ts_a = (row0 + ts).astype(np.int32)
    te_a = (row0 + np.minimum(te, _W)).astype(np.int32)
    bad_rows = ~good
    if bad_rows.any():  # keep the offsets in order: a refused line's tokens become empty
        ts_a[bad_rows] = row0[bad_rows]
        te_a[bad_rows] = row0[bad_rows]
    valid = is_num & good[:, None]
    vals = _cast_numbers(wbuf, ts_a.ravel(), te_a.ravel(), valid.ravel(), member, ok_doc)
    v = vals.reshape(n, 8)
    flags_f = np.where(is_null[:, 6], 0.0, v[:, 6])
    # flags are read as integers: beyond 2**53 the float is not the integer the JSON wrote
    ok_doc &= ~(np.bincount(member[good & ~(np.abs(flags_f) < 2.0**53)], minlength=nd) > 0)
    good = ok_doc[member]
    # callsign / squawk, forward-filled within each document
    callsign, squawk, ok2 = _details(pbuf, buf, ds, de, ddict & good, member, nd)
    ok_doc &= ok2
    good = ok_doc[member]
    sel = np.flatnonzero(good)
    if len(sel) < n:
        ia = pa.array(sel, pa.int64())
        callsign, squawk = callsign.take(ia), squawk.take(ia)
    m_sel = member[sel]
    flags = np.trunc(flags_f[sel]).astype(I8)
    status = _status(_encoded(pbuf, after[sel] + 2, after[sel] + q[sel], src_str[sel]), flags, m_sel)
    vv = v[sel]
    alt = np.where(ground[sel], np.nan, vv[:, 3])
    cols = TraceCols(m_sel, vv[:, 0], vv[:, 1], vv[:, 2], alt, vv[:, 4], vv[:, 5], vv[:, 7], flags,
                     ground[sel], np.zeros(len(sel), bool), status, callsign, squawk)
    return cols, ok_doc | dropped, dropped, dropped_pts


def _empty() -> TraceCols:
    z = np.zeros(0)
    s = pa.array([], pa.string())
    return TraceCols(np.zeros(0, I8), z, z, z, z, z, z, z, np.zeros(0, I8), np.zeros(0, bool), np.zeros(0, bool),
                     s, s, s)


def _cast_numbers(pbuf: pa.Buffer, ts: np.ndarray, te: np.ndarray, valid: np.ndarray, member: np.ndarray,
                  ok_doc: np.ndarray, per_line: int = 8) -> np.ndarray:
    """float64 of the tokens ``[ts, te)`` where ``valid`` (NaN elsewhere), ``per_line`` per line; a
    document with a token Arrow cannot read as a number is refused."""
    v2 = np.zeros(2 * len(ts), bool)
    v2[0::2] = valid
    arr = _str_array(pbuf, _spans(ts, te, valid), v2)
    try:
        out = pc.cast(arr, pa.float64())
    except pa.ArrowInvalid:  # find the documents at fault (rare: never in readsb's output)
        res = np.full(len(arr), np.nan)
        line_member = np.repeat(member, 2 * per_line)
        for d in np.unique(member):
            rows = np.flatnonzero(line_member == d)
            lo, hi = int(rows[0]), int(rows[-1]) + 1
            try:
                res[lo:hi] = pc.cast(arr.slice(lo, hi - lo), pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:
                ok_doc[d] = False
        return res[0::2]
    # the values buffer as is (to_numpy of an array with nulls is a slow path); NaN where null
    vals = np.frombuffer(out.buffers()[1], np.float64, len(out) + out.offset)[out.offset::2]
    return np.where(valid, vals, np.nan)


def _status(src: tuple[list[str], np.ndarray], flags: np.ndarray, member: np.ndarray) -> pa.Array:
    """``status`` per point: its source (encoded), ``;new-leg`` after a leg start, None for stale points."""
    n = len(flags)
    if not n:
        return pa.array([], pa.string())
    stale = (flags & 1).astype(bool)
    cum = np.cumsum((flags & 2) > 0)
    idx = np.arange(n)
    first = np.r_[True, member[1:] != member[:-1]]
    doc_start = np.maximum.accumulate(np.where(first, idx, 0))
    prev_kept = np.r_[-1, np.maximum.accumulate(np.where(~stale, idx, -1))[:-1]]
    prev = np.maximum(prev_kept, doc_start - 1)  # the previous kept point of the same document
    leg = (cum - np.where(prev >= 0, cum[np.maximum(prev, 0)], 0)) > 0
    words: list[str | None] = list(src[0])
    codes = np.where(src[1] < 0, len(words), src[1])
    words.append(None)
    table: list[str | None] = []
    for w in words:
        table += [(w or "") or None, (w or "") + ";new-leg"]
    code = np.where(stale, 2 * len(words), codes * 2 + leg)
    table.append(None)
    return pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int32)), pa.array(table, pa.string()))


def _value_bounds(pbuf: pa.Buffer, buf: np.ndarray, ds: np.ndarray, de: np.ndarray, key: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In each object ``[ds, de]``: bounds of ``key``'s string value and its kind
    (0 absent or null, 1 string, 2 anything else: the document is left to the reference reader)."""
    pos = pc.find_substring(_str_array(pbuf, _spans(ds, de + 1), _even(len(ds))), key)
    typ = np.int32 if pos.type == pa.int32() else np.int64  # the even entries (the objects) are never null
    p = np.frombuffer(pos.buffers()[1], typ, len(pos) + pos.offset)[pos.offset::2].astype(I8)
    found = p >= 0
    vs = ds + np.maximum(p, 0) + len(key)
    c = buf[vs]
    is_str = found & (c == _QUOTE)
    is_nul = found & (c == ord("n")) & (buf[vs + 1] == ord("u")) & (buf[vs + 2] == ord("l")) & (
        buf[vs + 3] == ord("l"))
    w = sliding_window_view(buf, _W)[vs + 1]
    qe = _low_bits(_bits(w == _QUOTE), 1)[:, 0]
    ok_str = is_str & (qe >= 0) & (vs + 1 + qe < de)
    kind = np.where(ok_str, 1, np.where(found & ~is_nul, 2, 0))
    return vs + 1, vs + 1 + np.maximum(qe, 0), kind


def _even(n: int) -> np.ndarray:
    v = np.zeros(2 * n, bool)
    v[0::2] = True
    return v


def _details(pbuf: pa.Buffer, buf: np.ndarray, ds: np.ndarray, de: np.ndarray, has: np.ndarray,
             member: np.ndarray, nd: int) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Per point: callsign (``flight`` stripped) and squawk of the latest details object of its
    document, and per document whether every such value was text (or null)."""
    n = len(ds)
    ok = np.ones(nd, bool)
    rows = np.flatnonzero(has)
    idx = np.arange(n)
    first = np.r_[True, member[1:] != member[:-1]] if n else np.zeros(0, bool)
    doc_start = np.maximum.accumulate(np.where(first, idx, 0)) if n else np.zeros(0, I8)
    out = []
    for key, strip in (('"flight":', True), ('"squawk":', False)):
        vs, ve, kind = _value_bounds(pbuf, buf, ds[rows], de[rows], key)
        if (kind == 2).any():
            ok &= ~(np.bincount(member[rows[kind == 2]], minlength=nd) > 0)
        found, codes = _encoded(pbuf, vs, ve, kind == 1)
        words = [w.strip() for w in found] if strip else found
        nonempty = np.array([bool(w) for w in words] + [False], bool)
        upd_rows = rows[nonempty[codes]]  # codes == -1 reads the final False
        code_at = np.full(n, len(words), I8)
        code_at[upd_rows] = codes[nonempty[codes]]
        upd = np.zeros(n, bool)
        upd[upd_rows] = True
        last = np.maximum.accumulate(np.where(upd, idx, -1)) if n else np.zeros(0, I8)
        src = np.where(last >= doc_start, code_at[np.maximum(last, 0)], len(words))
        out.append(pa.DictionaryArray.from_arrays(pa.array(src.astype(np.int32)),
                                                   pa.array([*words, None], pa.string())))
    return out[0], out[1], ok
