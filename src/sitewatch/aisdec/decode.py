"""Columnar AIS payload decoder: many armoured payloads in, NumPy columns out.

Contract: :func:`decode` takes the payloads of complete messages (multi-sentence ones
already joined) and their fill bits, and returns a :class:`Decoded`: per message its type
and, when it cannot be decoded, the reason; per layout (see :mod:`._layouts`) the indices
of its messages and one NumPy column per field, with a validity mask where the message
was too short to hold the field. The values equal pyais 3.3's for every field, including
pyais's rules for short messages (a field that starts past the end is missing; a field cut
by the end takes the bits that are there).

How: each layout's messages become a ``(symbols × messages)`` uint8 matrix of 6-bit
symbols (de-armoured by arithmetic), and each field is a few shifts and ORs over at most six
of its rows. Nothing loops over messages, except the final bytes → ``str`` of text fields.
Large inputs are decoded in blocks of ``BLOCK`` messages and the results joined: the
matrices stay cache-sized, and time per message stays flat however many are passed.

Rejected (``Decoded.reason``): empty payload, fewer than 38 bits (no complete MMSI), a
character outside the AIS armour alphabet (checked in the messages we decode; of the
others only the type character is read), more than 5 fill bits, type 0 or above 27, type 24 with part number 2 or 3. Types that
pyais knows but we do not decode (6–10, 12–17, 20–23, 25, 26) are not errors: they get
``reason is None`` and no layout (``Decoded.other``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sitewatch.aisdec._layouts import LAYOUTS, OTHER_TYPES, TYPE_LAYOUT, offsets

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

# ASCII → 6-bit value; 255 marks a character outside the armour alphabet ('0'–'W', '`'–'w')
_ARMOUR = np.full(256, 255, dtype=np.uint8)
for _c in range(48, 88):
    _ARMOUR[_c] = _c - 48
for _c in range(96, 120):
    _ARMOUR[_c] = _c - 56
# 6-bit value → text character (AIS sixbit ASCII: 0–31 are '@'–'_', 32–63 are ' '–'?')
_REASONS = np.array([None, "empty payload", "fill bits not 0-5", "character outside the AIS payload alphabet",
                     "payload too short to hold an MMSI (under 38 bits)", "unknown message type",
                     "type 24 with part number 2 or 3"], dtype=object)
_EMPTY, _FILL, _BAD_CHAR, _SHORT, _UNKNOWN, _PART = range(1, 7)
_MAX_SYM = (max(sum(w for _, w, _ in f) for f in LAYOUTS.values()) + 5) // 6
MIN_BITS = 38  # type, repeat indicator and MMSI: anything shorter identifies nobody
_SIXBIT = np.array([v + 64 if v < 32 else v for v in range(64)], dtype=np.uint8)


@dataclass
class Group:
    """Messages of one layout: their indices in the input and one column per field."""

    layout: str
    index: I64
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    valid: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)  # absent key = all valid

    def __len__(self) -> int:
        return len(self.index)

    def present(self, name: str) -> npt.NDArray[np.bool_]:
        v = self.valid.get(name)
        return np.ones(len(self.index), dtype=bool) if v is None else v


@dataclass
class Decoded:
    msg_type: I64  # −1 where the payload has no type
    reason: npt.NDArray[np.object_]  # None = decoded (or a type we leave to others)
    groups: dict[str, Group]
    other: I64  # indices of messages of types we do not decode

    _ok: npt.NDArray[np.bool_] | None = None

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        if self._ok is None or len(self._ok) != len(self.reason):
            self._ok = self.reason == None  # noqa: E711  (element-wise)
        return self._ok


def decode(payloads: list[bytes], fill_bits: npt.ArrayLike) -> Decoded:
    """Decode ``payloads`` (armoured AIS payload bytes) with their fill bits."""
    n = len(payloads)
    fill = np.asarray(fill_bits, dtype=np.int64)
    lengths = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    starts = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lengths[:-1], out=starts[1:])
    return decode_buffer(buf, starts, lengths, fill)


BLOCK = 131_072  # messages decoded together (a class A block's symbol matrix is ~3.7 MB)


def decode_buffer(buf: U8, starts: I64, lengths: I64, fill: I64) -> Decoded:
    """As :func:`decode`, for payloads found at ``buf[starts[i]:starts[i] + lengths[i]]``.

    ``buf`` may hold anything between the payloads (a whole chunk of NMEA text), so the
    reader decodes straight from what it read, without copying payloads out.
    """
    n = len(lengths)
    if n <= BLOCK:
        return _decode_block(buf, starts, lengths, fill)
    parts: list[tuple[int, Decoded]] = []
    for a in range(0, n, BLOCK):
        st, ln = starts[a:a + BLOCK], lengths[a:a + BLOCK]
        lo, hi = int(st.min()), int((st + ln).max())
        parts.append((a, _decode_block(buf[lo:hi], st - lo, ln, fill[a:a + BLOCK])))
    return _join(parts)


def _join(parts: list[tuple[int, Decoded]]) -> Decoded:
    """One :class:`Decoded` from blocks (``(offset of the block's first message, result)``)."""
    groups: dict[str, Group] = {}
    for name in dict.fromkeys(k for _, d in parts for k in d.groups):
        gs = [(a, d.groups[name]) for a, d in parts if name in d.groups]
        g0 = gs[0][1]
        valid_keys = dict.fromkeys(k for _, g in gs for k in g.valid)
        groups[name] = Group(
            name, np.concatenate([g.index + a for a, g in gs]),
            {k: np.concatenate([g.cols[k] for _, g in gs]) for k in g0.cols},
            {k: np.concatenate([g.present(k) for _, g in gs]) for k in valid_keys})
    return Decoded(np.concatenate([d.msg_type for _, d in parts]), np.concatenate([d.reason for _, d in parts]),
                   groups, np.concatenate([d.other + a for a, d in parts]),
                   np.concatenate([d.ok for _, d in parts]))


def _decode_block(buf: U8, starts: I64, lengths: I64, fill: I64) -> Decoded:
    n = len(lengths)
    # one padded copy of the bytes, so that every message's window of symbols is in range;
    # characters are mapped and checked only inside the windows the layouts need
    pbuf = np.concatenate([buf, np.zeros(_MAX_SYM, dtype=np.uint8)])
    code = np.zeros(n, dtype=np.int8)  # index into REASONS; 0 = decodable
    msg_type = np.full(n, -1, dtype=np.int64)
    has = lengths > 0
    first = _ARMOUR[pbuf[starts[has]]].astype(np.int64)
    msg_type[has] = np.where(first == 255, -1, first)
    nbits = lengths * 6 - fill
    code[has & (nbits < MIN_BITS)] = _SHORT
    code[(fill < 0) | (fill > 5)] = _FILL
    code[np.flatnonzero(has)[first == 255]] = _BAD_CHAR
    code[~has] = _EMPTY
    code[has & ((msg_type == 0) | (msg_type > 27)) & (code == 0)] = _UNKNOWN
    ok = code == 0

    groups: dict[str, Group] = {}
    for mtype in np.flatnonzero(np.bincount(msg_type[ok], minlength=28)):
        idx = np.flatnonzero(ok & (msg_type == mtype))
        t = int(mtype)
        if t in TYPE_LAYOUT:
            _add(groups, TYPE_LAYOUT[t], idx)
        elif t == 24:
            part = _field_at(pbuf, starts[idx], lengths[idx], fill[idx], nbits[idx], 38, 2)
            mmsi = _field_at(pbuf, starts[idx], lengths[idx], fill[idx], nbits[idx], 8, 30)
            bad = part > 1
            code[idx[bad]] = _PART
            aux = (mmsi >= 980_000_000) & (mmsi <= 989_999_999)
            _add(groups, "static_a", idx[part == 0])
            _add(groups, "static_b", idx[(part == 1) & ~aux])
            _add(groups, "static_b_aux", idx[(part == 1) & aux])
    other = np.flatnonzero(ok & np.isin(msg_type, list(OTHER_TYPES)))
    for g in groups.values():
        _decode_group(g, pbuf, starts, lengths, fill, nbits, code)
    reason = _REASONS[code]
    return Decoded(msg_type, reason, {k: g for k, g in groups.items() if len(g)}, other, code == 0)


def _add(groups: dict[str, Group], layout: str, idx: I64) -> None:
    if layout in groups:
        groups[layout].index = np.sort(np.concatenate([groups[layout].index, idx]))
    else:
        groups[layout] = Group(layout, idx)


def _field_at(pbuf: U8, starts: I64, lengths: I64, fill: I64, nb: I64, o: int, w: int) -> I64:
    """One unsigned field for a few messages (a field cut by the end keeps the bits there)."""
    mat, _ = _matrix(pbuf, starts, lengths, fill, (o + w + 5) // 6)
    raw = _extract(mat, o, w)
    return np.where(o + w > nb, raw >> np.clip(o + w - nb, 0, w), raw)


def _matrix(pbuf: U8, starts: I64, lengths: I64, fill: I64, n_sym: int) -> tuple[U8, npt.NDArray[np.bool_]]:
    """(n_sym × messages) 6-bit symbols, and which messages hold a character outside the alphabet.

    Rows are gathered from a sliding-window view of the padded bytes (one row copy per
    message, no index matrix), then de-armoured; symbols past each
    message's end and its fill bits are zero.
    """
    windows = np.lib.stride_tricks.sliding_window_view(pbuf, n_sym)
    # de-armour by arithmetic (uint8, wrapping), a few times faster than a 256-entry lookup:
    # '0'..'W' → 0..39, '`'..'w' → 40..63; anything else lands on 40..47 or above 71 (bad)
    mat: U8 = windows[starts] - np.uint8(48)
    bad_sym = (mat > 71) | ((mat - np.uint8(40)) < 8)
    mat -= (mat > 47).view(np.uint8) << np.uint8(3)
    short = np.flatnonzero(lengths < n_sym)
    if len(short):
        inside = np.arange(n_sym)[None, :] < lengths[short, None]
        mat[short] = np.where(inside, mat[short], 0)
        bad_sym[short] &= inside
    bad: npt.NDArray[np.bool_] = np.asarray(bad_sym.any(axis=1))
    long = np.flatnonzero(lengths > n_sym)  # characters beyond the layout: checked, not decoded
    if len(long):
        extra = lengths[long] - n_sym
        first = np.cumsum(extra) - extra  # where each message's run starts in the gathered bytes
        pos = np.arange(int(extra.sum())) - np.repeat(first, extra) + np.repeat(starts[long] + n_sym, extra)
        v = pbuf[pos] - np.uint8(48)
        outside = ((v > 71) | ((v - np.uint8(40)) < 8)).view(np.uint8)
        bad[long] |= np.maximum.reduceat(outside, first) > 0
    if bad.any():
        mat[bad] = 0
    # clear the fill bits of each message's last symbol
    last = lengths - 1
    rows = np.flatnonzero((fill > 0) & (last < n_sym) & (last >= 0))
    if len(rows):
        keep = (0x3F << fill[rows]) & 0x3F
        mat[rows, last[rows]] &= keep.astype(np.uint8)
    # symbol-major (n_sym × messages): every field reads whole contiguous rows, not a
    # 1-in-n_sym column that drags the whole matrix through the cache
    return np.ascontiguousarray(mat.T), bad


def _extract(sym: U8, o: int, w: int) -> I64:
    """Bits ``[o, o + w)`` of every message from a symbol-major matrix (see :func:`_matrix`)."""
    s0, s1 = o // 6, (o + w - 1) // 6
    acc = sym[s0].astype(np.int64)
    for s in range(s0 + 1, s1 + 1):  # in place: no temporary per symbol
        acc <<= 6
        acc |= sym[s]
    shift = 6 * (s1 - s0 + 1) - (o - 6 * s0) - w
    if shift:
        acc >>= shift
    acc &= (1 << w) - 1
    return acc


def _decode_group(g: Group, pbuf: U8, starts: I64, lengths: I64, fill: I64, nbits: I64,
                  code: npt.NDArray[np.int8]) -> None:
    fields = offsets(LAYOUTS[g.layout])
    total = fields[-1][1] + fields[-1][2]
    mat, bad = _matrix(pbuf, starts[g.index], lengths[g.index], fill[g.index], (total + 5) // 6)
    if bad.any():  # a character outside the alphabet: the message is rejected, not decoded
        code[g.index[bad]] = _BAD_CHAR
        g.index = g.index[~bad]
        mat = mat[:, ~bad]
    idx = g.index
    nb = nbits[idx]
    short_msgs = bool((nb < total).any())
    for name, o, w, kind in fields:
        if kind == "-":
            continue
        if kind == "str":
            g.cols[name] = _text(mat, o, w, nb if short_msgs else None)
            if short_msgs:
                g.valid[name] = o < nb
            continue
        raw = _extract(mat, o, w)
        avail: I64 | None = None  # bits present, where a message ends inside the field
        if short_msgs:
            cut = (o + w > nb) & (o < nb)
            if cut.any():
                avail = np.where(cut, nb - o, w)
                raw = np.where(cut, raw >> np.clip(o + w - nb, 0, w), raw)
            g.valid[name] = o < nb
        if kind in ("i", "ll", "ll600", "rot"):  # two's complement
            if avail is None:  # every message holds all w bits: subtract 2**w where the top bit is set
                raw -= (raw >> (w - 1)) << w
            else:
                sign = (raw >> np.maximum(avail - 1, 0)) & 1
                raw = np.where((sign == 1) & (avail > 0), raw - (np.int64(1) << avail), raw)
        g.cols[name] = _convert(raw, kind)


def _convert(raw: I64, kind: str) -> np.ndarray:
    if kind in ("u", "i"):
        return raw
    if kind == "b":
        return raw != 0
    if kind == "f":
        return raw.astype(np.float64)
    if kind == "tenth":
        return raw.astype(np.float64) / 10.0
    if kind == "ll":  # pyais: round(v / 600000, 6) computed as ((10 v + 3) // 6) / 1e6
        return ((10 * raw + 3) // 6) / 1e6
    if kind == "ll600":
        return ((10000 * raw + 3) // 6) / 1e6
    if kind == "rot":
        t = raw.astype(np.float64)
        with np.errstate(invalid="ignore"):
            deg = np.copysign(np.round((t / 4.733) ** 2), t)
        markers = (np.abs(raw) == 127) | (raw == -128)
        return np.where(raw == 0, 0.0, np.where(markers, t, deg))
    raise ValueError(f"unknown field kind {kind!r}")


def _text(mat: U8, o: int, w: int, nb: I64 | None) -> npt.NDArray[np.object_]:
    k = w // 6
    codes = np.empty((mat.shape[1], k), dtype=np.uint8)  # mat is symbol-major
    for j in range(k):
        oj = o + 6 * j
        v = _extract(mat, oj, 6)
        if nb is not None:  # a character cut by the end keeps only the bits that are there
            cut = (oj + 6 > nb) & (oj < nb)
            v = np.where(cut, v >> np.clip(oj + 6 - nb, 0, 6), v)
        codes[:, j] = v
    chars = np.ascontiguousarray(_SIXBIT[codes]).view(f"S{k}").ravel()
    out = np.empty(len(chars), dtype=object)
    out[:] = [c.decode("ascii").rstrip("@").strip() for c in chars.tolist()]
    return out
