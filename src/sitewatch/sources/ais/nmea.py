"""AIS in NMEA 0183 (``!AIVDM``/``!AIVDO`` and other talkers), decoded by :mod:`sitewatch.aisdec`.

Lines and envelopes (tag blocks, ``$PGHP``, logger timestamps, suffixes after the checksum
such as AISHub's ``,receiver,time``, ``$AIVDM``, other sentences) are described in
:mod:`._sentences`. Lines are read in chunks; each chunk's sentences are checked, joined
and decoded as whole columns.

**Times.** A message's time is the first explicit time of its sentences (tag block ``c:``,
``$PGHP``, logger prefix or suffix; in a live stream, the time of reception). A message
without one takes, in this order: the last explicit time before it in the file, else the
first explicit time after it in the same chunk, else ``--start`` plus 1 ms per line of the
file ("file order"); such positions are flagged ``time_inferred``. With none of these the
message is quarantined ("no time … pass --start").

**Bad checksums** (policy): a sentence whose ``*hh`` does not match, or that has none, is
quarantined with the reason "checksum mismatch" and counted (``checksum_bad``); its data
are not used, because one flipped bit can move a ship by hundreds of kilometres and
invent a port call. ``ReadOptions.extra["keep_bad_checksum"] = True`` (CLI
``--keep-bad-checksum``) keeps them instead, still counted, for feeds known to write
wrong checksums.

**What becomes what.** Types 1–3, 18, 19 and 27 with a position → ``positions``
(91°/181° "not available" → counted as ``no_position``, other out-of-range values
quarantined); types 5, 19 and 24 → ``vessel_reports``; type 4/11 (base stations) counted;
types we do not decode (6–10, 12–17, 20–23, 25, 26: binary, safety text, interrogations,
link management, AtoN…) are counted per type (``not_decoded_type_N``) — valid traffic
that carries no vessel position, not errors. A position's ``callsign`` is the ship name
most recently reported by that MMSI earlier in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch.aisdec import Decoded, decode_buffer
from sitewatch.sources.ais._assembly import chains
from sitewatch.sources.ais._common import coord_ok, mmsi_text, positions_table, reports_table
from sitewatch.sources.ais._scan import Scan, scan
from sitewatch.sources.ais._sentences import (
    T_MAX_S,
    T_MIN_S,
    Assembler,
    Fragment,
    not_ais_reason,
    parse_time_text,
    pghp_time,
    plausible,
    split_suffix,
    suffix_time,
    tag_block_time,
    xor_ok,
)
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register, rejects_of

CHUNK_BYTES = 8 << 20
_VDM = (b"VDM", b"VDO")
_POSITION_LAYOUTS = ("class_a", "class_b", "class_b_ext", "long_range")
_STATIC_LAYOUTS = ("static_voyage", "class_b_ext", "static_a", "static_b", "static_b_aux")
_LINE_MS = 1e-3  # "file order": one millisecond per line after --start
_FEW_SUFFIXES = 256  # from this many suffixed sentences in a chunk on, their times are read as columns


@dataclass
class ChunkResult:
    positions: pa.Table
    reports: pa.Table
    rejects: list[Reject]
    counters: dict[str, int]


@dataclass
class NmeaParser:
    """Turns lines of NMEA into position and static rows; keeps state between chunks."""

    fmt: str = "nmea"
    start_s: float | None = None
    keep_bad_checksum: bool = False
    assembler: Assembler = field(default_factory=Assembler)
    last_t: float | None = None
    names: dict[int, str] = field(default_factory=dict)  # MMSI → last reported ship name
    inferred: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def feed(self, data: bytes, first_line: int, recv_t: float | None = None) -> ChunkResult:
        """Parse a chunk of whole lines (numbered from ``first_line``).

        ``recv_t`` is the reception time (UNIX seconds) of a live chunk: the explicit time
        of every sentence that carries none of its own.
        """
        counters: dict[str, int] = {}
        rejects: list[Reject] = []
        buf, sc = scan(data)
        ls, le = sc.line_start, sc.line_end

        chunk_text: list[str] = []

        def text_of(a: int, b: int) -> str:
            """``data[a:b]`` as text: the chunk is decoded once ("replace" maps each byte to one
            character, so byte offsets are character offsets)."""
            if not chunk_text:
                chunk_text.append(data.decode("ascii", "replace"))
            return chunk_text[0][a:b]

        def text(k: int) -> str:
            return text_of(int(ls[k]), int(le[k]))

        # -- regular sentences: times from what precedes the '!' (tag block, logger time) ----
        n_reg = len(sc.line)
        t_reg = np.full(n_reg, np.nan)
        drop = np.zeros(n_reg, dtype=bool)
        for k in np.flatnonzero(sc.bang > ls[sc.line]).tolist():
            prefix = data[ls[sc.line[k]]:sc.bang[k]].strip()
            t, why = self._prefix(prefix, counters)
            if why:
                rejects.append(Reject(first_line + int(sc.line[k]), text(int(sc.line[k])), why))
                drop[k] = True
            elif t is not None:
                t_reg[k] = t
        # -- text after the checksum (AISHub's ",receiver,time", a trailing time) -------------
        sfx = np.flatnonzero((sc.suffix < le[sc.line]) & ~drop)
        if len(sfx):
            t_sfx, why_sfx = self._suffixes(data, buf, sc.suffix[sfx], le[sc.line[sfx]], counters)
            for k, why in zip(sfx[why_sfx != ""].tolist(), why_sfx[why_sfx != ""].tolist(), strict=True):
                rejects.append(Reject(first_line + int(sc.line[k]), text(int(sc.line[k])), why))
                drop[k] = True
            take = ~np.isnan(t_sfx) & np.isnan(t_reg[sfx])  # a tag block's or logger's time wins
            t_reg[sfx[take]] = t_sfx[take]
        # -- irregular lines, one by one ------------------------------------------------------
        frags: list[Fragment] = []  # multi-sentence fragments and irregular sentences
        pghp: list[tuple[int, float]] = []
        irr = sc.irregular
        head = buf[np.minimum(ls[irr][:, None] + np.arange(6), max(len(buf) - 1, 0))] if len(irr) else \
            np.zeros((0, 6), dtype=np.uint8)
        comment, dollar = head[:, 0] == 35, head[:, 0] == 36  # '#', '$' (irregular lines are not blank)
        is_pghp = dollar & (le[irr] - ls[irr] >= 5) & (head[:, 1:5] == np.frombuffer(b"PGHP", np.uint8)).all(axis=1)
        vdx = dollar & (head[:, 3] == 86) & (head[:, 4] == 68) & ((head[:, 5] == 77) | (head[:, 5] == 79))  # $xxVDM/O
        other = dollar & ~is_pghp & ~vdx
        for key, n in (("comment_lines", int(comment.sum())), ("other_nmea_sentences", int(other.sum()))):
            if n:
                counters[key] = counters.get(key, 0) + n
        if other.any():  # counted above, and quarantined: never only counted
            oth = irr[other]
            span = list(zip(ls[oth].tolist(), le[oth].tolist(), strict=True))
            rejects.extend(rejects_of((oth + first_line).tolist(), [text_of(a, b) for a, b in span],
                                      [not_ais_reason(data[a:min(b, a + 24)]) for a, b in span]))
        for k in irr[is_pghp].tolist():
            self._pghp(data[ls[k]:le[k]].strip(), k, pghp, counters)
        for k in irr[~comment & (~dollar | vdx)].tolist():
            self._irregular(data[ls[k]:le[k]].strip(), k, first_line, frags, pghp, rejects, counters)
        # -- times from $PGHP (for the next sentence) and reception --------------------------
        sent_lines = np.concatenate([sc.line, np.array([f.line for f in frags], dtype=np.int64)])
        sent_t = np.concatenate([t_reg, np.array([f.t_s for f in frags], dtype=np.float64)])
        if pghp and len(sent_lines):
            order = np.argsort(sent_lines, kind="stable")
            p_lines = np.array([p for p, _ in pghp], dtype=np.int64)
            p_times = np.array([t for _, t in pghp], dtype=np.float64)
            j = np.searchsorted(sent_lines[order], p_lines, side="right")
            ok = j < len(order)
            target = order[j[ok]]
            free = np.isnan(sent_t[target])  # the sentence's own time wins; the last $PGHP before it too
            sent_t[target[free]] = p_times[ok][free]
        if recv_t is not None:
            sent_t = np.where(np.isnan(sent_t), recv_t, sent_t)
        t_reg = sent_t[:n_reg]
        for f, t in zip(frags, sent_t[n_reg:].tolist(), strict=True):
            f.t_s = t
        counters["sentences"] = n_reg + len(frags)
        # -- checksums: regular ones were checked by the scan; drop or keep by policy -------
        bad = ~sc.chk_ok & ~drop
        counters["checksum_bad"] = int(bad.sum()) + sum(1 for f in frags if not f.chk_ok)
        if not self.keep_bad_checksum:
            for k in np.flatnonzero(bad).tolist():
                rejects.append(Reject(first_line + int(sc.line[k]), text(int(sc.line[k])),
                                      "checksum mismatch (or no *hh checksum)"))
            drop |= bad
        impossible = ~drop & ((sc.frag_cnt < 1) | (sc.frag_num < 1) | (sc.frag_num > sc.frag_cnt))
        for k in np.flatnonzero(impossible).tolist():
            rejects.append(Reject(first_line + int(sc.line[k]), text(int(sc.line[k])),
                                  f"fragment {int(sc.frag_num[k])} of {int(sc.frag_cnt[k])} is impossible "
                                  "(1-9 fragments)"))
        drop |= impossible
        single = ~drop & (sc.frag_cnt == 1)
        multi = np.flatnonzero(~drop & (sc.frag_cnt > 1))
        # keys with a message open from the last chunk, or with irregular fragments, are joined
        # fragment by fragment (the Assembler); all others as whole columns (exactly the same rules)
        m_key = (sc.seq[multi] + 1) * 512 + (sc.chan[multi] + 1)
        slow_keys = [(a + 1) * 512 + (b + 1) for a, b in
                     {*self.assembler.pending, *(f.key for f in frags if f.frag_cnt > 1)}
                     if -1 <= a <= 255 and -1 <= b <= 255]
        slow = np.isin(m_key, slow_keys) if slow_keys else np.zeros(len(multi), dtype=bool)
        frags.extend(self._fragments(data, sc, le, t_reg, multi[slow], first_line))
        extra: list[bytes] = []
        x_line: list[int] = []
        x_fill: list[int] = []
        x_t: list[float] = []
        x_raw: list[bytes] = []
        self._join_columns(data, sc, le, t_reg, multi[~slow], m_key[~slow], first_line, text_of, rejects,
                           (extra, x_line, x_fill, x_t, x_raw))
        # -- irregular sentences and the keys above, one by one (few) ------------------------
        frags.sort(key=lambda f: f.line)
        for f in frags:
            if not f.chk_ok and not self.keep_bad_checksum:
                rejects.append(Reject(first_line + f.line, f.sentence.decode("ascii", "replace"),
                                      "checksum mismatch (or no *hh checksum)"))
                continue
            if not (1 <= f.frag_num <= f.frag_cnt <= 9):
                rejects.append(Reject(first_line + f.line, f.sentence.decode("ascii", "replace"),
                                      f"fragment {f.frag_num} of {f.frag_cnt} is impossible (1-9 fragments)"))
                continue
            done, dropped = self.assembler.add(f.key, f) if f.frag_cnt > 1 else ([f], [])
            for g in dropped:
                rejects.append(Reject(g.abs_line, g.sentence.decode("ascii", "replace"), _incomplete(g.frag_num,
                                                                                                     g.frag_cnt)))
            if done:
                times = [g.t_s for g in done if g.t_s == g.t_s]
                extra.append(b"".join(g.payload for g in done))
                x_line.append(done[0].abs_line - first_line)
                x_fill.append(done[-1].fill)
                x_t.append(times[0] if times else float("nan"))
                x_raw.append(b"\n".join(g.sentence for g in done))
        # -- all complete messages, in line order --------------------------------------------
        xbuf = np.frombuffer(b"".join(extra), dtype=np.uint8)
        x_len = np.fromiter((len(p) for p in extra), dtype=np.int64, count=len(extra))
        x_start = len(buf) + np.concatenate([[0], np.cumsum(x_len)[:-1]]).astype(np.int64)
        line = np.concatenate([sc.line[single], np.asarray(x_line, dtype=np.int64)])
        start = np.concatenate([sc.pay_start[single], x_start[: len(extra)]])
        length = np.concatenate([sc.pay_len[single], x_len])
        fill = np.concatenate([sc.fill[single], np.asarray(x_fill, dtype=np.int64)])
        t_msg = np.concatenate([t_reg[single], np.asarray(x_t, dtype=np.float64)])
        is_x = np.concatenate([np.zeros(int(single.sum()), np.int64), np.arange(1, len(extra) + 1)])
        order = np.argsort(line, kind="stable")
        line, start, length, fill, t_msg, is_x = (a[order] for a in (line, start, length, fill, t_msg, is_x))
        counters["messages"] = len(line)
        full = np.concatenate([buf, xbuf]) if len(xbuf) else buf

        def raw_of(idx: np.ndarray) -> list[str]:
            """The raw text of messages ``idx`` (for quarantine), in one pass."""
            if not len(idx):
                return []
            xs = is_x[idx]
            lo, hi = ls[line[idx]].tolist(), le[line[idx]].tolist()
            if not xs.any():
                return [text_of(a, b) for a, b in zip(lo, hi, strict=True)]
            return [(x_raw[x - 1].decode("ascii", "replace") if x else text_of(a, b))
                    for x, a, b in zip(xs.tolist(), lo, hi, strict=True)]

        return self._decode(full, start, length, fill, t_msg, line + first_line, raw_of, rejects, counters)

    @staticmethod
    def _fragments(data: bytes, sc: Scan, le: np.ndarray, t_reg: np.ndarray, rows: np.ndarray,
                   first_line: int) -> list[Fragment]:
        """Regular sentences ``rows`` as :class:`Fragment` objects (for the one-by-one path)."""
        cols = (sc.line[rows], sc.bang[rows], le[sc.line[rows]], sc.frag_cnt[rows], sc.frag_num[rows],
                sc.pay_start[rows], sc.pay_start[rows] + sc.pay_len[rows], sc.fill[rows], t_reg[rows],
                sc.seq[rows], sc.chan[rows])
        return [Fragment(ln, data[b0:b1], cnt, num, data[p0:p1], fl, tt, True, (sq, ch), first_line + ln)
                for ln, b0, b1, cnt, num, p0, p1, fl, tt, sq, ch in zip(*(c.tolist() for c in cols), strict=True)]

    def _join_columns(self, data: bytes, sc: Scan, le: np.ndarray, t_reg: np.ndarray, rows: np.ndarray,
                      keys: np.ndarray, first_line: int, text_of: Callable[[int, int], str],
                      rejects: list[Reject], out: tuple[list[bytes], list[int], list[int], list[float], list[bytes]]
                      ) -> None:
        """Multi-sentence messages from regular sentences ``rows`` (keys with nothing open)."""
        if not len(rows):
            return
        ch = chains(keys, sc.frag_num[rows], sc.frag_cnt[rows])
        so = rows[ch.order]  # scan rows, sorted by (key, line)
        orphan = so[ch.orphans]
        b0, b1 = sc.bang[orphan].tolist(), le[sc.line[orphan]].tolist()
        rejects.extend(rejects_of(
            (first_line + sc.line[orphan]).tolist(), [text_of(a, b) for a, b in zip(b0, b1, strict=True)],
            [_incomplete(n, c) for n, c in zip(sc.frag_num[orphan].tolist(), sc.frag_cnt[orphan].tolist(),
                                                strict=True)]))
        keep = so[np.concatenate([ch.open, *(np.arange(a, b + 1) for a, b in
                                               zip(ch.first.tolist(), ch.last.tolist(), strict=True))])]
        frag = {f.line: f for f in self._fragments(data, sc, le, t_reg, keep, first_line)}
        for f in (frag[ln] for ln in sc.line[so[ch.open]].tolist()):  # open at the end: carried over
            self.assembler.pending.setdefault(f.key, []).append(f)
        extra, x_line, x_fill, x_t, x_raw = out
        lines = sc.line[so].tolist()
        for a, b in zip(ch.first.tolist(), ch.last.tolist(), strict=True):
            done = [frag[ln] for ln in lines[a:b + 1]]
            times = [g.t_s for g in done if g.t_s == g.t_s]
            extra.append(b"".join(g.payload for g in done))
            x_line.append(done[0].line)
            x_fill.append(done[-1].fill)
            x_t.append(times[0] if times else float("nan"))
            x_raw.append(b"\n".join(g.sentence for g in done))

    def _prefix(self, prefix: bytes, counters: dict[str, int]) -> tuple[float | None, str]:
        """Time from a tag block and/or logger timestamp before the '!': (time, reason if bad)."""
        t: float | None = None
        if prefix[:1] != b"\\":
            cut = prefix.find(b"\\")
            head = prefix if cut < 0 else prefix[:cut]
            t = parse_time_text(head.strip(b" ,;\t"))
            if t is None:
                return None, "unrecognised text before the sentence (not a timestamp)"
            if cut < 0:
                return self._plausible(t, counters), ""
            prefix = prefix[cut:]
        end = prefix.find(b"\\", 1)
        if end < 0:
            return None, "tag block without its closing backslash"
        tb, ok = tag_block_time(prefix[1:end])
        if not ok:
            counters["tag_block_bad_checksum"] = counters.get("tag_block_bad_checksum", 0) + 1
            tb = None
        tb = self._plausible(tb, counters)
        return (tb if tb is not None else self._plausible(t, counters)), ""

    def _suffixes(self, data: bytes, buf: np.ndarray, start: np.ndarray, end: np.ndarray,
                  counters: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """Times (NaN: none) and quarantine reasons ("" when fine) of the texts ``data[start:end]``
        after the checksums of regular sentences; AISHub's ``,receiver,TIME`` (10-digit UNIX
        seconds) as whole columns, anything else one by one."""
        n = len(start)
        t = np.full(n, np.nan)
        why = np.full(n, "", dtype=object)
        slow = np.ones(n, dtype=bool)
        if n >= _FEW_SUFFIXES:
            last = np.flatnonzero(buf == 44)  # the last comma of each suffix opens its time field
            lc = last[np.searchsorted(last, end) - 1]
            digits = buf[np.minimum(lc[:, None] + 1 + np.arange(10), len(buf) - 1)].astype(np.int64) - 48
            odd = np.flatnonzero((buf == 33) | (buf == 36) | (buf == 92))  # '!', '$', '\\' in a suffix: not ours
            clean = odd[np.minimum(np.searchsorted(odd, start), len(odd) - 1)] >= end if len(odd) else \
                np.ones(n, dtype=bool)
            fast = (end - lc == 11) & ((digits >= 0) & (digits <= 9)).all(axis=1) & clean
            secs = digits @ (10 ** np.arange(9, -1, -1, dtype=np.int64))
            t[fast] = np.where((secs[fast] >= T_MIN_S) & (secs[fast] <= T_MAX_S), secs[fast], np.nan)
            bad_t = int((fast & np.isnan(t)).sum())
            if bad_t:
                counters["implausible_time"] = counters.get("implausible_time", 0) + bad_t
            counters["receiver_suffix"] = counters.get("receiver_suffix", 0) + int(fast.sum())
            slow = ~fast
        for k in np.flatnonzero(slow).tolist():
            tk, wk = self._suffix(data[int(start[k]):int(end[k])].rstrip(), counters)
            t[k] = np.nan if tk is None else tk
            why[k] = wk
        return t, why

    def _suffix(self, suffix: bytes, counters: dict[str, int]) -> tuple[float | None, str]:
        """Time from the text after a sentence's checksum: (time, reason if unrecognised)."""
        t, ok = suffix_time(suffix)
        if not ok:
            return None, "unrecognised text after the checksum (expected ,RECEIVER,TIME or ,TIME)"
        counters["receiver_suffix"] = counters.get("receiver_suffix", 0) + 1
        return self._plausible(t, counters), ""

    @staticmethod
    def _plausible(t: float | None, counters: dict[str, int]) -> float | None:
        if t is None:
            return None
        if not plausible(t):
            counters["implausible_time"] = counters.get("implausible_time", 0) + 1
            return None
        return t

    def _pghp(self, line: bytes, k: int, pghp: list[tuple[int, float]], counters: dict[str, int]) -> None:
        """A Gatehouse ``$PGHP`` line: its time, for the sentence that follows."""
        pt, ok = pghp_time(line)
        if not ok:
            counters["pghp_bad_checksum"] = counters.get("pghp_bad_checksum", 0) + 1
        elif self._plausible(pt, counters) is not None and pt is not None:
            pghp.append((k, pt))

    def _irregular(self, line: bytes, k: int, first_line: int, frags: list[Fragment],
                   pghp: list[tuple[int, float]], rejects: list[Reject], counters: dict[str, int]) -> None:
        """One line the scan could not take: comment, $PGHP, other NMEA, odd sentence, garbage."""
        lineno = first_line + k
        if not line or line[:1] == b"#":
            counters["comment_lines"] = counters.get("comment_lines", 0) + 1
            return
        if line[:5] == b"$PGHP":
            self._pghp(line, k, pghp, counters)
            return
        bang = _sentence_start(line)
        if bang < 0:
            rejects.append(Reject(lineno, line.decode("ascii", "replace"), "not an NMEA sentence"))
            return
        t: float | None = None
        if bang > 0:
            t, why = self._prefix(line[:bang].strip(), counters)
            if why:
                rejects.append(Reject(lineno, line.decode("ascii", "replace"), why))
                return
        sentence, suffix = split_suffix(line[bang:])
        if suffix:
            tt, why = self._suffix(suffix.rstrip(), counters)
            if why:
                rejects.append(Reject(lineno, line.decode("ascii", "replace"), why))
                return
            t = t if t is not None else tt
        parts = sentence.split(b",")
        if parts[0][-3:] not in _VDM or len(parts[0]) != 6:
            key = "other_nmea_sentences" if sentence[:1] == b"$" else "other_ais_sentences"
            counters[key] = counters.get(key, 0) + 1
            rejects.append(Reject(lineno, line.decode("ascii", "replace"), not_ais_reason(sentence)))
            return
        if len(parts) != 7:
            rejects.append(Reject(lineno, line.decode("ascii", "replace"),
                                  f"VDM/VDO sentence with {len(parts)} fields, expected 7"))
            return
        tail = parts[6]
        try:
            cnt, num = int(parts[1]), int(parts[2])
            fill = int(tail[: tail.find(b"*")] if b"*" in tail else tail[:1] or b"x")
        except ValueError:
            rejects.append(Reject(lineno, line.decode("ascii", "replace"),
                                  "fragment count, number or fill bits not a number"))
            return
        body, star, chk = sentence[1:].rpartition(b"*")
        ok = bool(star) and xor_ok(body, chk) and len(chk.strip()) == 2
        frags.append(Fragment(k, sentence, cnt, num, parts[5], fill,
                              t if t is not None else float("nan"), ok, (_key(parts[3]), _key(parts[4])),
                              first_line + k))

    def flush(self) -> list[Reject]:
        """Quarantine the fragments still waiting for their message at the end of the input."""
        return [Reject(f.abs_line, f.sentence.decode("ascii", "replace"),
                       f"incomplete multi-sentence message (fragment {f.frag_num} of {f.frag_cnt}; "
                       "the input ended)") for f in self.assembler.flush()]

    # -- decoding and rows ------------------------------------------------------------------------
    def _decode(self, buf: np.ndarray, start: np.ndarray, length: np.ndarray, fill: np.ndarray,
                times: np.ndarray, lines: np.ndarray, raw_of: Callable[[np.ndarray], list[str]], rejects: list[Reject],
                counters: dict[str, int]) -> ChunkResult:
        t_s = self._times(times, lines, counters)
        d = decode_buffer(buf, start, length, fill)
        bad = np.flatnonzero(~d.ok)
        rejects.extend(rejects_of(lines[bad].tolist(), raw_of(bad), d.reason[bad].tolist()))
        counts = np.bincount(d.msg_type[d.ok], minlength=64)
        for ty in np.flatnonzero(counts).tolist():
            c = counts[ty]
            key = f"msg_type_{ty}" if ty in (1, 2, 3, 4, 5, 11, 18, 19, 24, 27) else f"not_decoded_type_{ty}"
            counters[key] = int(c)
        used = np.zeros(len(lines), dtype=bool)
        for name in (*_POSITION_LAYOUTS, *_STATIC_LAYOUTS):
            if name in d.groups:
                used[d.groups[name].index] = True
        untimed = np.flatnonzero(used & np.isnan(t_s))
        why = "no time in the line or before it in the file; pass --start T"
        rejects.extend(Reject(ln, raw, why) for ln, raw in zip(lines[untimed].tolist(), raw_of(untimed), strict=True))
        names_before = dict(self.names)
        reports, events = self._reports(d, lines, t_s)
        positions = self._positions(d, lines, t_s, raw_of, rejects, counters, names_before, events)
        return ChunkResult(positions, reports, rejects, counters)

    def _times(self, t: np.ndarray, lines: np.ndarray, counters: dict[str, int]) -> np.ndarray:
        """Explicit times, else carried forward / back / from --start (NaN where none)."""
        explicit = ~np.isnan(t)
        counters["time_explicit"] = int(explicit.sum())
        out = t.copy()
        if len(t) == 0:
            return out
        # carry forward the last explicit time (from earlier chunks too)
        idx = np.where(explicit, np.arange(len(t)), -1)
        np.maximum.accumulate(idx, out=idx)
        fwd = np.where(idx >= 0, t[np.maximum(idx, 0)], self.last_t if self.last_t is not None else np.nan)
        out = np.where(explicit, t, fwd)
        # lines before any explicit time: the first explicit time after them in this chunk
        if np.isnan(out).any() and explicit.any():
            first = t[np.argmax(explicit)]
            out = np.where(np.isnan(out) & (np.arange(len(t)) < np.argmax(explicit)), first, out)
        if np.isnan(out).any() and self.start_s is not None:
            out = np.where(np.isnan(out), self.start_s + (lines - 1) * _LINE_MS, out)
        if explicit.any():
            self.last_t = float(t[explicit][-1])
        self.inferred = ~explicit
        return out

    def _reports(self, d: Decoded, lines: np.ndarray, t_s: np.ndarray
                 ) -> tuple[pa.Table, list[tuple[int, int, str]]]:
        """Static rows, and the (message index, MMSI, ship name) events for naming positions."""
        rows: list[dict[str, Any]] = []
        events: list[tuple[int, int, str]] = []
        for name in _STATIC_LAYOUTS:
            g = d.groups.get(name)
            if g is None:
                continue
            idx = g.index
            col = {k: _masked_list(v, g.valid.get(k)) for k, v in g.cols.items()}
            t_us = np.round(t_s[idx] * 1e6)
            length = width = None
            if "to_bow" in col:
                ok = g.present("to_starboard")
                length = np.where(ok, g.cols["to_bow"] + g.cols["to_stern"], 0).tolist()
                width = np.where(ok, g.cols["to_port"] + g.cols["to_starboard"], 0).tolist()
            for j, (i, t, ln, inf) in enumerate(zip(idx.tolist(), t_us.tolist(), lines[idx].tolist(),
                                                   self.inferred[idx].tolist(), strict=True)):
                if t != t:
                    continue  # no time: quarantined by _decode
                mmsi_int = col["mmsi"][j]
                mmsi = f"{mmsi_int:09d}"
                rep: dict[str, Any] = {"mmsi": mmsi, "t_utc_us": int(t), "rec_offset": ln,
                                       "msg_type": col["msg_type"][j], "time_inferred": inf}
                nm = col["shipname"][j] if "shipname" in col else None
                if nm:
                    rep["name"] = nm
                    events.append((i, mmsi_int, nm))
                cs = col["callsign"][j] if "callsign" in col else None
                if cs:
                    rep["callsign"] = cs
                imo = col["imo"][j] if "imo" in col else None
                if imo:
                    rep["imo"] = imo
                st = col["ship_type"][j] if "ship_type" in col else None
                if st:
                    rep["ship_type"] = st
                if length is not None and width is not None:
                    if length[j]:
                        rep["length_m"] = float(length[j])
                    if width[j]:
                        rep["width_m"] = float(width[j])
                dr = col["draught"][j] if "draught" in col else None
                if dr:
                    rep["draught_m"] = dr
                dest = col["destination"][j] if "destination" in col else None
                if dest:
                    rep["destination"] = dest
                if len(rep) > 5:
                    rows.append(rep)
        rows.sort(key=lambda r: r["rec_offset"])
        events.sort()
        for _, m, nm in events:
            self.names[m] = nm
        return reports_table(rows, self.fmt), events

    def _positions(self, d: Decoded, lines: np.ndarray, t_s: np.ndarray, raw_of: Callable[[np.ndarray], list[str]],
                   rejects: list[Reject], counters: dict[str, int], names_before: dict[int, str],
                   events: list[tuple[int, int, str]]) -> pa.Table:
        parts: list[dict[str, np.ndarray]] = []
        for name in _POSITION_LAYOUTS:
            g = d.groups.get(name)
            if g is None:
                continue
            c = g.cols
            n = len(g)
            have = g.present("lat") & g.present("lon")
            lat = np.where(have, c["lat"], np.nan)
            lon = np.where(have, c["lon"], np.nan)
            speed = np.where(g.present("speed"), c["speed"], np.nan)
            course = np.where(g.present("course"), c["course"], np.nan)
            if name == "long_range":  # 6-bit knots (63 = n/a), 9-bit degrees (511 = n/a)
                speed = np.where(speed >= 63, np.nan, speed)
                course = np.where(course >= 360, np.nan, course)
                heading = np.full(n, np.nan)
            else:
                heading = np.where(g.present("heading"), c["heading"], 511).astype(np.float64)
            status = (np.where(g.present("status"), c["status"], -1) if "status" in c
                      else np.full(n, -1, dtype=np.int64))
            parts.append({"i": g.index, "mmsi": c["mmsi"], "lat": lat, "lon": lon, "speed": speed,
                          "course": course, "heading": heading, "status": status})
        if not parts:
            return _empty_positions(self.fmt)
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = _counting_order(cat["i"], len(lines))
        cat = {k: v[order] for k, v in cat.items()}
        i = cat["i"]
        na = (np.abs(cat["lat"] - 91) < 1e-9) | (np.abs(cat["lon"] - 181) < 1e-9) | np.isnan(cat["lat"])
        counters["no_position"] = int(na.sum())
        bad = ~na & ~coord_ok(cat["lat"], cat["lon"])
        no_time = np.isnan(t_s[i])
        for k in np.flatnonzero(bad & ~no_time).tolist():
            rejects.append(Reject(int(lines[i[k]]), raw_of(i[k:k + 1])[0], "latitude/longitude out of range"))
        keep = ~na & ~bad & ~no_time
        enc = pa.array(cat["mmsi"][keep], pa.int64()).dictionary_encode()  # hashing, no sort
        uniq = enc.dictionary.to_numpy()
        inverse = enc.indices.to_numpy().astype(np.int64)
        mmsi = pc.take(mmsi_text(uniq), pa.array(inverse))
        names = _names_at(i[keep], cat["mmsi"][keep], uniq, inverse, names_before, events)
        counters["time_inferred"] = int(self.inferred[i][keep].sum())
        return positions_table(
            t_utc_us=np.round(t_s[i][keep] * 1e6).astype(np.int64), mmsi=mmsi,
            lat=cat["lat"][keep], lon=cat["lon"][keep], fmt=self.fmt, rec_offset=lines[i][keep],
            speed_kt=cat["speed"][keep], track_deg=cat["course"][keep], heading_deg=cat["heading"][keep],
            status_code=cat["status"][keep], name=names, time_inferred=self.inferred[i][keep],
        )


def _counting_order(idx: np.ndarray, n: int) -> np.ndarray:
    """``np.argsort(idx)`` for distinct integers in ``[0, n)``, in linear time."""
    where = np.full(n, -1, dtype=np.int64)
    where[idx] = np.arange(len(idx))
    return where[where >= 0]


def _masked_list(values: np.ndarray, valid: np.ndarray | None) -> list[Any]:
    """Column values as a list, ``None`` where the message was too short to hold the field."""
    out = values.tolist()
    if valid is not None:
        for k in np.flatnonzero(~valid).tolist():
            out[k] = None
    return out


_INCOMPLETE: dict[tuple[int, int], str] = {}


def _incomplete(num: int, cnt: int) -> str:
    """The quarantine reason of an orphan fragment (one string per (number, count))."""
    why = _INCOMPLETE.get((num, cnt))
    if why is None:
        why = _INCOMPLETE[(num, cnt)] = (f"incomplete multi-sentence message (fragment {num} of {cnt} "
                                         "without the others)")
    return why


def _sentence_start(line: bytes) -> int:
    """Where the sentence starts (its ``!`` or ``$``, after any prefix), −1 when there is none."""
    found = [i for i in (line.find(b"!"), line.find(b"$")) if i >= 0]
    return min(found) if found else -1


def _key(field: bytes) -> int:
    """Sequence id or channel as the scan sees it: its byte value, −1 when empty."""
    return int.from_bytes(field, "big") if field else -1


def _names_at(pos_i: np.ndarray, pos_m: np.ndarray, uniq: np.ndarray, inverse: np.ndarray,
              before: dict[int, str], events: list[tuple[int, int, str]]) -> pa.Array:
    """Ship name of each position: the last name its MMSI reported at or before it.

    ``uniq``/``inverse``: the distinct MMSIs and, per position, the index of its MMSI in ``uniq``.
    """
    values: list[str | None] = [before.get(m) for m in uniq.tolist()]
    idx = inverse.copy()
    if events and len(pos_i):
        ev_i = np.array([e[0] for e in events], dtype=np.int64)
        ev_m = np.array([e[1] for e in events], dtype=np.int64)
        named = np.flatnonzero(np.isin(pos_m, ev_m))  # only these positions can take a name from this chunk
        pos_i, pos_m = pos_i[named], pos_m[named]
        all_m = np.concatenate([ev_m, pos_m])
        all_i = np.concatenate([ev_i, pos_i])
        is_pos = np.concatenate([np.zeros(len(ev_i), np.int64), np.ones(len(pos_i), np.int64)])
        order = np.lexsort((is_pos, all_i, all_m))  # by MMSI, then message, a report before its position
        sm = all_m[order]
        grp_start = np.zeros(len(order), dtype=np.int64)
        new = np.flatnonzero(np.r_[True, sm[1:] != sm[:-1]])
        grp_start[new] = new
        np.maximum.accumulate(grp_start, out=grp_start)
        ptr = np.where(is_pos[order] == 0, np.arange(len(order)), -1)
        np.maximum.accumulate(ptr, out=ptr)
        hit = np.flatnonzero((ptr >= grp_start) & (is_pos[order] == 1))
        base = len(values)
        values.extend(e[2] for e in events)
        idx[named[order[hit] - len(ev_i)]] = base + order[ptr[hit]]
    return pc.take(pa.array(values, pa.string()), pa.array(idx, pa.int64()))


def _empty_positions(fmt: str) -> pa.Table:
    z = np.zeros(0)
    return positions_table(t_utc_us=np.zeros(0, np.int64), mmsi=[], lat=z, lon=z, fmt=fmt,
                           rec_offset=np.zeros(0, np.int64))


def _sniff_line(line: bytes) -> bool:
    return (b"!AIVD" in line or b"VDM," in line or b"VDO," in line) and b"*" in line


@register
class NmeaReader:
    kind = "ais"
    name = "nmea"

    def sniff(self, head: bytes, name: str) -> float:
        lines = [ln for ln in head.split(b"\n")[:200] if ln.strip() and not ln.startswith(b"#")]
        if not lines:
            return 0.0
        hits = sum(_sniff_line(ln) for ln in lines)
        return 0.95 if hits >= max(1, len(lines) // 4) else (0.4 if hits else 0.0)

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        parser = NmeaParser(
            start_s=_epoch(opts.start), keep_bad_checksum=bool(opts.extra.get("keep_bad_checksum")))
        first = 1
        tail = b""
        with src.open() as f:
            while True:
                block = f.read(CHUNK_BYTES)
                if not block:
                    break
                data = tail + block
                cut = data.rfind(b"\n")
                if cut < 0:
                    tail = data
                    continue
                tail = data[cut + 1:]
                chunk = data[: cut + 1]
                yield from _batches(parser.feed(chunk, first))
                first += chunk.count(b"\n")
        if tail.strip():
            yield from _batches(parser.feed(tail, first))
        leftovers = parser.flush()
        if leftovers:
            yield Batch("positions", _empty_positions("nmea"), leftovers)


def _batches(r: ChunkResult) -> Iterator[Batch]:
    yield Batch("positions", r.positions, r.rejects, r.counters)
    if r.reports.num_rows:
        yield Batch("vessel_reports", r.reports)


def _epoch(t: datetime | None) -> float | None:
    return None if t is None else t.timestamp()
