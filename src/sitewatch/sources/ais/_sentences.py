"""NMEA 0183 line handling for AIS: envelopes, times, checksums, multi-sentence reassembly.

A line may carry, around one ``!xxVDM``/``!xxVDO`` sentence:

* an NMEA 4.0 **tag block** ``\\s:station,c:1428621738*5F\\`` (``c:`` = UNIX time, seconds;
  13-digit values are milliseconds); its own checksum is checked and a block that fails
  it contributes no time (counter ``tag_block_bad_checksum``);
* a **logger timestamp** before the sentence, separated by a blank, comma, semicolon or tab:
  UNIX seconds (``1733637600.123``) or ISO 8601 (``2024-12-08T06:00:00Z``,
  ``2024-12-08 06:00:00.123``; no zone means UTC);
* a **suffix** after the checksum: a trailing UNIX time (``…*5C,1733637600``), as some
  receivers write, or AISHub's receiver name and time (``…*08,raishub,1342569600``): the
  time is the sentence's receive time (like a tag block's ``c:``, which wins when both are
  there); the receiver name has no column in the store and is only counted
  (``receiver_suffix``). Text after the checksum that is not such fields is quarantined.

The sentence is ``!xxVDM``/``!xxVDO`` or the non-encapsulated ``$xxVDM``/``$xxVDO`` form some
feeds write (decoded the same way). A ``$PGHP`` (Gatehouse) line gives the time of the
sentence that follows it. Comment lines (``#``) and blank lines are skipped; any other
sentence (``$GPGGA``, ``!GPSD``, ``!AIALR`` …) is counted (``other_nmea_sentences`` for ``$``,
``other_ais_sentences`` for ``!``) and quarantined as "not an AIS sentence (…)". Times
outside 1995–2100 are not trusted (counter ``implausible_time``).

Multi-sentence messages are joined by (sequence id, channel): fragment 1 opens a message,
fragment k must follow k−1; a fragment out of order, a new fragment 1 over an unfinished
message, or the end of the input leaves the unfinished fragments quarantined as
"incomplete multi-sentence message".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

T_MIN_S = 788_918_400.0  # 1995-01-01: no AIS log predates it
T_MAX_S = 4_102_444_800.0  # 2100-01-01

_HEX = np.full(256, 255, dtype=np.int64)
for _i, _ch in enumerate(b"0123456789ABCDEF"):
    _HEX[_ch] = _i
for _i, _ch in enumerate(b"abcdef"):
    _HEX[_ch] = 10 + _i

_ISO = re.compile(
    rb"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?\s*(Z|[+-]\d{2}:?\d{2})?$")
_EPOCH = re.compile(rb"^\d{9,10}(?:\.\d+)?$|^\d{13}$")


_SUFFIX_FIELD = re.compile(rb"^[^!$*\\,]*$")


def split_suffix(sentence: bytes) -> tuple[bytes, bytes]:
    """(sentence up to its ``*hh``, the text after it) — the text is empty when there is none."""
    star = sentence.rfind(b"*")
    if star < 0 or len(sentence) <= star + 3 or sentence[star + 3:star + 4] != b",":
        return sentence, b""
    return sentence[:star + 3], sentence[star + 3:]


def suffix_time(text: bytes) -> tuple[float | None, bool]:
    """(UNIX time or None, recognised) of the text after a sentence's checksum.

    Recognised: comma-separated fields (receiver names, a time) with no ``!``, ``$``, ``*`` or
    backslash; the last field, when it is an epoch or ISO time, is the time.
    """
    if text[:1] != b",":
        return None, False
    fields = text[1:].split(b",")
    if not all(_SUFFIX_FIELD.match(f) for f in fields):
        return None, False
    return parse_time_text(fields[-1]), True


def not_ais_reason(sentence: bytes) -> str:
    """Quarantine reason for a sentence that carries no AIS message (``$GPGGA``, ``!GPSD`` …)."""
    return _not_ais(sentence.split(b",", 1)[0].split(b"*", 1)[0].strip()[:16])


@functools.lru_cache(maxsize=256)
def _not_ais(head: bytes) -> str:
    return f"not an AIS sentence ({head.decode('ascii', 'replace')})"


def checksum_ok(sentences: list[bytes]) -> npt.NDArray[np.bool_]:
    """Whether each sentence's ``*hh`` equals the XOR of the bytes between ``!``/``$`` and ``*``."""
    n = len(sentences)
    if n == 0:
        return np.zeros(0, dtype=bool)
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=n)
    stars = np.fromiter((s.rfind(b"*") for s in sentences), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(sentences), dtype=np.uint8)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    has = (stars >= 2) & (stars + 2 < lengths)
    lo = starts + 1
    hi = starts + np.where(has, stars, 1)
    # reduceat over interleaved [lo, hi) bounds; empty ranges are handled by `has`
    bounds = np.empty(2 * n, dtype=np.int64)
    bounds[0::2] = lo
    bounds[1::2] = np.maximum(hi, lo)
    bounds = np.minimum(bounds, len(buf) - 1)
    x = np.bitwise_xor.reduceat(buf, bounds)[0::2].astype(np.int64)
    pos = np.minimum(starts + stars + 1, len(buf) - 2)
    want = _HEX[buf[pos]] * 16 + _HEX[buf[pos + 1]]
    valid_hex = (_HEX[buf[pos]] < 16) & (_HEX[buf[pos + 1]] < 16)
    return has & valid_hex & (x == want)  # type: ignore[no-any-return]


def xor_bytes(text: bytes) -> int:
    """XOR of all bytes, folded as one integer (log2(n) big-integer steps, no loop per byte)."""
    x = int.from_bytes(text, "little")
    n = len(text)
    while n > 1:
        h = (n + 1) // 2
        x = (x & ((1 << (8 * h)) - 1)) ^ (x >> (8 * h))
        n = h
    return x


def xor_ok(text: bytes, want_hex: bytes) -> bool:
    """Checksum of a tag block or $PGHP body (without delimiters) against its hex digits."""
    x = xor_bytes(text)
    try:
        return x == int(want_hex[:2], 16)
    except ValueError:
        return False


def parse_time_text(text: bytes) -> float | None:
    """UNIX seconds from a logger prefix (epoch or ISO 8601), ``None`` if not a time."""
    text = text.strip()
    if _EPOCH.match(text):
        v = float(text)
        return v / 1000.0 if len(text) == 13 and text.isdigit() else v
    m = _ISO.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = m.group(7) or b""
    try:
        t = datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError:
        return None
    secs = t.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)
    tz = m.group(8)
    if tz and tz != b"Z":
        sign = 1 if tz[:1] == b"+" else -1
        digits = tz[1:].replace(b":", b"")
        secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return secs


def tag_block_time(block: bytes) -> tuple[float | None, bool]:
    """(``c:`` time in UNIX seconds or None, checksum ok) of a tag block's inner text."""
    body, _, chk = block.partition(b"*")
    ok = xor_ok(body, chk) if chk else False
    t = None
    for part in body.split(b","):
        if part[:2] == b"c:":
            digits = part[2:]
            if digits.isdigit():
                v = float(digits)
                t = v / 1000.0 if len(digits) >= 13 else v
    return t, ok


def pghp_time(line: bytes) -> tuple[float | None, bool]:
    """(time, checksum ok) of a Gatehouse ``$PGHP,1,yyyy,mm,dd,HH,MM,SS,mmm,…*hh`` line."""
    body, _, chk = line[1:].partition(b"*")
    ok = xor_ok(body, chk)
    f = body.split(b",")
    try:
        y, mo, d, h, mi, s, ms = map(int, f[2:9])
        t = datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC).timestamp()
    except (ValueError, IndexError):
        return None, ok
    return t, ok


def plausible(t: float | None) -> bool:
    return t is not None and T_MIN_S <= t <= T_MAX_S


@dataclass(slots=True)
class Fragment:
    line: int
    sentence: bytes
    frag_cnt: int
    frag_num: int
    payload: bytes
    fill: int
    t_s: float  # NaN when the line had no time
    chk_ok: bool = True
    key: tuple[int, int] = (-1, -1)  # (sequence id, channel)
    abs_line: int = 0  # line number in the file


@dataclass
class Assembler:
    """Joins multi-sentence messages by (sequence id, channel); keeps state across chunks."""

    pending: dict[tuple[int, int], list[Fragment]] = field(default_factory=dict)

    def add(self, key: tuple[int, int], frag: Fragment) -> tuple[list[Fragment] | None, list[Fragment]]:
        """Add one fragment: (complete message's fragments or None, fragments to quarantine)."""
        dropped: list[Fragment] = []
        have = self.pending.get(key)
        if frag.frag_num == 1:
            if have:
                dropped = self.pending.pop(key)
            if frag.frag_cnt == 1:
                return [frag], dropped
            self.pending[key] = [frag]
            return None, dropped
        if not have or have[-1].frag_num != frag.frag_num - 1 or have[0].frag_cnt != frag.frag_cnt:
            if have:
                dropped = self.pending.pop(key)
            return None, [*dropped, frag]
        have.append(frag)
        if frag.frag_num == frag.frag_cnt:
            return self.pending.pop(key), dropped
        return None, dropped

    def flush(self) -> list[Fragment]:
        out = [f for frags in self.pending.values() for f in frags]
        self.pending.clear()
        return out
