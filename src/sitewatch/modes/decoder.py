"""The stateful columnar Mode S decoder: chunks of frames in, one decoded row per frame out.

Contract: :meth:`ModeSDecoder.decode` takes an ``(N, 14)`` byte matrix (see
:mod:`sitewatch.modes.frames`), the frame lengths and times in seconds (any consistent
clock, e.g. Unix time) and returns a :class:`Decoded` whose arrays are aligned with the
input rows. Chunks must come in time order (rows inside a chunk may be out of order);
the decoder carries what the next chunk needs — the last even/odd CPR frames, last good
position, last velocity, callsign and squawk of each aircraft seen in the last
``ttl_s`` seconds — so memory is bounded by the number of active aircraft, not the file.

Per chunk, with NumPy only (no loop over frames):

1. CRC-24 (:mod:`sitewatch.modes.crc`): DF17/18 must have a zero syndrome; a single
   flipped bit is repaired (``crc_repaired``), anything else dropped (``crc_failed``).
   DF11 may carry an interrogator code in the low 7 bits. DF0/4/5/16/20/21 carry the
   address in the parity: they are kept only when that address was seen in a clean
   DF11/17/18 recently (``unverified_address`` otherwise).
2. Fields (:mod:`sitewatch.modes.fields`): identification, velocity, altitudes, squawk.
3. CPR: each position frame is paired with the latest opposite-parity frame of the same
   aircraft at most ``pair_window_s`` before it (global decoding, the frame's own zone);
   frames left over are decoded locally against the nearest good position of the same
   aircraft within ``local_window_s`` (before or after: a file can look ahead); frames
   still left (a lone frame, an aircraft heard in one parity only) are decoded locally
   against the receiver's ``reference`` when one is given, and kept only where the result
   lies within the unambiguous range of it (:data:`REF_RANGE_AIR_NM` airborne,
   :data:`REF_RANGE_SURFACE_NM` surface; ``cpr_ref_out_of_range`` otherwise). Such rows
   have ``cpr_ref`` set (counter ``positions_ref``), as pyModeS's ``position_with_ref``,
   rs1090 and dump1090 decode them.
   Surface frames need a reference: the receiver's (``reference``), else the
   aircraft's own last airborne fix, else the region of the feed's airborne fixes.
4. Positions implying more than ``max_speed_kmh`` (plus ``margin_km`` for CPR
   resolution) from the previous accepted position are rejected (``jump_rejected``);
   three mutually consistent rejects in a row re-anchor the track.

Counters accumulate in :attr:`ModeSDecoder.counters`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields

import numpy as np

from sitewatch.geo import NM_M, haversine_m
from sitewatch.modes import cpr, crc
from sitewatch.modes import fields as F

_LONG_DF = np.array([16, 17, 18, 19, 20, 21, 24])
_SHORT_DF = np.array([0, 4, 5, 11])
KIND_AIR_GLOBAL, KIND_AIR_LOCAL, KIND_SURF_GLOBAL, KIND_SURF_LOCAL = 1, 2, 3, 4
REGION_SPAN_DEG = 20.0  # airborne fixes spread less than this: one receiver's region
REF_RANGE_AIR_NM = 180.0  # local decoding is unambiguous within half a latitude zone (DO-260B §A.1.7.5)
REF_RANGE_SURFACE_NM = 45.0  # the same for the 90-degree surface zones (§A.1.7.6)


@dataclass
class Decoded:
    """One row per input frame. NaN / -1 / None where a field does not apply."""

    t: np.ndarray  # seconds
    df: np.ndarray  # int16
    icao: np.ndarray  # uint32 aircraft address (0 when unknown)
    ok: np.ndarray  # bool: CRC good (or repaired) / address verified
    non_icao: np.ndarray  # bool: DF18 with a non-ICAO (anonymous, TIS-B) address
    tc: np.ndarray  # int16 ADS-B type code, -1 for non-ES
    lat: np.ndarray
    lon: np.ndarray
    pos_kind: np.ndarray  # int8: 0 none, 1/2 airborne global/local, 3/4 surface global/local
    cpr_ref: np.ndarray  # bool: decoded locally against the receiver reference (pos_kind 2/4)
    alt_ft: np.ndarray
    speed_kt: np.ndarray
    track_deg: np.ndarray
    vrate_fpm: np.ndarray
    heading_deg: np.ndarray
    onground: np.ndarray  # int8: -1 unknown, 0 airborne, 1 surface
    callsign: np.ndarray  # object
    category: np.ndarray  # object ("A3" …)
    squawk: np.ndarray  # int32 Mode A code (octal digits), -1 none
    cpr_fmt: np.ndarray  # int8 -1/0/1
    lat_cpr: np.ndarray  # int64
    lon_cpr: np.ndarray
    # context carried onto position rows: latest velocity/heading (≤ 10 s), callsign, squawk
    ctx_speed_kt: np.ndarray
    ctx_track_deg: np.ndarray
    ctx_vrate_fpm: np.ndarray
    ctx_heading_deg: np.ndarray
    ctx_callsign: np.ndarray
    ctx_squawk: np.ndarray

    def take(self, idx: np.ndarray | slice) -> Decoded:
        return Decoded(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Decoded]) -> Decoded:
        return Decoded(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                          for f in fields(Decoded)})

    def __len__(self) -> int:
        return int(self.t.shape[0])


def _empty(n: int) -> Decoded:
    nan = np.full(n, np.nan)
    return Decoded(
        t=np.zeros(n), df=np.full(n, -1, np.int16), icao=np.zeros(n, np.uint32), ok=np.zeros(n, bool),
        non_icao=np.zeros(n, bool), tc=np.full(n, -1, np.int16), lat=nan.copy(), lon=nan.copy(),
        pos_kind=np.zeros(n, np.int8), cpr_ref=np.zeros(n, bool), alt_ft=nan.copy(), speed_kt=nan.copy(), track_deg=nan.copy(),
        vrate_fpm=nan.copy(), heading_deg=nan.copy(), onground=np.full(n, -1, np.int8),
        callsign=np.full(n, None, object), category=np.full(n, None, object),
        squawk=np.full(n, -1, np.int32), cpr_fmt=np.full(n, -1, np.int8),
        lat_cpr=np.zeros(n, np.int64), lon_cpr=np.zeros(n, np.int64),
        ctx_speed_kt=nan.copy(), ctx_track_deg=nan.copy(), ctx_vrate_fpm=nan.copy(), ctx_heading_deg=nan.copy(),
        ctx_callsign=np.full(n, None, object), ctx_squawk=np.full(n, -1, np.int32),
    )


def _present(v: np.ndarray) -> np.ndarray:
    """Elementwise ``is not None`` on an object array, in C."""
    return np.asarray(v != None, dtype=bool)  # noqa: E711 (elementwise on an object array)


class ModeSDecoder:
    """Decode chunks of Mode S frames; see the module docstring for the contract."""

    def __init__(self, reference: tuple[float, float] | None = None, pair_window_s: float = 10.0,
                 local_window_s: float = 30.0, surface_window_s: float = 300.0,
                 max_speed_kmh: float = 1200.0, margin_km: float = 1.0, repair: bool = True,
                 ttl_s: float = 300.0, velocity_window_s: float = 10.0) -> None:
        if reference is not None and not (-90 <= reference[0] <= 90 and -180 <= reference[1] <= 180):
            raise ValueError(f"reference {reference} is not a (lat, lon) in range")
        self.reference = reference
        self.pair_window_s = pair_window_s
        self.local_window_s = local_window_s
        self.surface_window_s = surface_window_s
        self.max_speed_kmh = max_speed_kmh
        self.margin_km = margin_km
        self.repair = repair
        self.ttl_s = ttl_s
        self.velocity_window_s = velocity_window_s
        self.counters: Counter[str] = Counter()
        self._tail = _empty(0)
        self._tail_msg = np.zeros((0, 14), np.uint8)
        self._tail_nb = np.zeros(0, np.int8)
        self._known_icao = np.zeros(0, np.uint32)
        self._known_t = np.zeros(0)
        self._region: tuple[float, float] | None = None

    # -- public --------------------------------------------------------------------------
    def decode(self, msg: np.ndarray, nbytes: np.ndarray, t: np.ndarray) -> Decoded:
        """Decode one chunk (see the module docstring); returns rows aligned with the input."""
        n = msg.shape[0]
        if n == 0:
            return _empty(0)
        msg = np.array(msg, dtype=np.uint8, copy=True)  # repair flips bits in place
        t = np.asarray(t, dtype=np.float64)
        m = len(self._tail)
        all_msg = np.concatenate([self._tail_msg, msg])
        all_nb = np.concatenate([self._tail_nb, np.asarray(nbytes, np.int8)])
        all_t = np.concatenate([self._tail.t, t])
        is_new = np.zeros(m + n, bool)
        is_new[m:] = True
        d = self._fields(all_msg, all_nb, all_t, is_new)
        # the tail keeps its accepted positions and context; only new rows are decoded
        if m:
            for name in ("lat", "lon", "pos_kind", "cpr_ref"):
                getattr(d, name)[:m] = getattr(self._tail, name)
        self._positions(d, is_new)
        self._context(d)
        self._keep_tail(d, all_msg, all_nb)
        return d.take(slice(m, None))

    # -- stage 1 and 2: CRC, addresses, fields --------------------------------------------
    def _fields(self, msg: np.ndarray, nb: np.ndarray, t: np.ndarray, is_new: np.ndarray) -> Decoded:
        c = self.counters
        n = msg.shape[0]
        d = _empty(n)
        d.t = t
        df, ca, aa = F.header(msg)
        # some receivers (rs1090 dumps) write 56-bit replies into a 112-bit buffer: the DF
        # fixes the length, the trailing bytes are noise (dump1090 reads frames the same way)
        padded = (nb == 14) & np.isin(df, _SHORT_DF)
        c["short_in_long"] += int((padded & is_new).sum())
        nb = np.where(padded, 7, nb).astype(np.int8)
        long_ok = (nb == 14) & np.isin(df, _LONG_DF)
        short_ok = (nb == 7) & np.isin(df, _SHORT_DF)
        c["frames"] += int(is_new.sum())
        c["bad_length"] += int((is_new & (nb > 0) & ~long_ok & ~short_ok).sum())
        syn = np.zeros(n, np.uint32)
        li, si = np.flatnonzero(long_ok), np.flatnonzero(short_ok)
        syn[li] = crc.syndromes(msg[li])
        syn[si] = crc.syndromes(msg[si, :7])
        es = long_ok & ((df == 17) | (df == 18))
        bad_es = es & (syn != 0)
        if self.repair and bad_es.any():
            rows = np.flatnonzero(bad_es)
            sub = msg[rows]
            fixed = crc.repair_single_bit(sub, syn[rows])
            msg[rows] = sub
            syn[rows[fixed]] = 0
            c["crc_repaired"] += int((fixed & is_new[rows]).sum())
            df, ca, aa = F.header(msg)  # a repaired bit may sit in the address
        es_ok = es & (syn == 0)
        c["crc_failed"] += int((es & ~es_ok & is_new).sum())
        df11 = short_ok & (df == 11)
        df11_ok = df11 & ((syn & 0xFFFF80) == 0)
        c["crc_failed"] += int((df11 & ~df11_ok & is_new).sum())
        # addresses seen in clean frames (this chunk, tail and recent history)
        clean = es_ok | df11_ok
        self._remember(aa[clean], t[clean])
        surv = (long_ok | short_ok) & np.isin(df, [0, 4, 5, 16, 20, 21])
        verified = surv & np.isin(syn, self._known_icao)
        c["unverified_address"] += int((surv & ~verified & is_new).sum())
        d.df = df
        d.icao = np.where(surv, syn, aa).astype(np.uint32)
        d.ok = es_ok | df11_ok | verified
        d.non_icao = es_ok & (df == 18) & np.isin(ca, [1, 3, 5])
        for k in (0, 4, 5, 11, 16, 17, 18, 20, 21):
            c[f"df{k}"] += int((d.ok & (df == k) & is_new).sum())
        # surveillance replies
        code = F.surveillance_field(msg)
        alt_rows = verified & np.isin(df, [0, 4, 16, 20])
        d.alt_ft = np.where(alt_rows, F.altitude_code(code), np.nan)
        sq_rows = verified & np.isin(df, [5, 21])
        d.squawk = np.where(sq_rows, F.squawk_code(code), -1).astype(np.int32)
        # Comm-B identification (BDS 2,0) in verified DF20/21 replies
        cb = np.flatnonzero(verified & np.isin(df, [20, 21]) & (nb == 14))
        if cb.size:
            mb = F.me_field(msg[cb])
            is20 = F.bits(mb, 1, 8) == 0x20
            if is20.any():
                cs, _ = F.identification(mb[is20], np.zeros(int(is20.sum()), np.int64))
                good = np.array(["#" not in x and x != "" for x in cs], bool)
                d.callsign[cb[is20][good]] = cs[good]
        # extended squitter (DF18 CF 3 is coarse TIS-B with its own layout: not decoded)
        es_dec = es_ok & ~((df == 18) & (ca == 3))
        ei = np.flatnonzero(es_dec)
        if ei.size == 0:
            return d
        me = F.me_field(msg[ei])
        tc = F.typecode(me)
        d.tc[ei] = tc
        ident = (tc >= 1) & (tc <= 4)
        if ident.any():
            cs, cat = F.identification(me[ident], tc[ident])
            d.callsign[ei[ident]] = cs
            d.category[ei[ident]] = cat
        airp = ((tc >= 9) & (tc <= 18)) | ((tc >= 20) & (tc <= 22))
        if airp.any():
            p = F.airborne_position(me[airp], tc[airp])
            rows = ei[airp]
            d.alt_ft[rows] = p["alt_ft"]
            d.cpr_fmt[rows], d.lat_cpr[rows], d.lon_cpr[rows] = p["fmt"], p["lat_cpr"], p["lon_cpr"]
            d.onground[rows] = 0
        surf = (tc >= 5) & (tc <= 8)
        if surf.any():
            p = F.surface_position(me[surf])
            rows = ei[surf]
            d.speed_kt[rows], d.track_deg[rows] = p["speed_kt"], p["track_deg"]
            d.cpr_fmt[rows], d.lat_cpr[rows], d.lon_cpr[rows] = p["fmt"], p["lat_cpr"], p["lon_cpr"]
            d.onground[rows] = 1
        status = (tc == 28) & (F.bits(me, 6, 3) == 1)  # aircraft status: emergency + Mode A code
        if status.any():
            d.squawk[ei[status]] = F.squawk_code(F.bits(me[status], 12, 13))
        vel = tc == 19
        if vel.any():
            v = F.velocity(me[vel])
            rows = ei[vel]
            for fld in ("speed_kt", "track_deg", "vrate_fpm", "heading_deg"):
                getattr(d, fld)[rows] = v[fld]
        return d

    def _remember(self, icao: np.ndarray, t: np.ndarray) -> None:
        if icao.size == 0:
            return
        allc = np.concatenate([self._known_icao, icao.astype(np.uint32)])
        allt = np.concatenate([self._known_t, t])
        order = np.lexsort((allt, allc))
        allc, allt = allc[order], allt[order]
        last = np.r_[allc[1:] != allc[:-1], True]
        keep = last & (allt >= allt.max() - self.ttl_s)
        self._known_icao, self._known_t = allc[keep], allt[keep]

    # -- stage 3 and 4: CPR and the jump filter -------------------------------------------
    def _positions(self, d: Decoded, is_new: np.ndarray) -> None:
        c = self.counters
        pos_rows = d.ok & (d.cpr_fmt >= 0)
        fixed = ~is_new & (d.pos_kind > 0)
        cand = np.flatnonzero(pos_rows | fixed)
        if cand.size == 0:
            return
        surf = d.onground[cand] == 1
        key = d.icao[cand].astype(np.int64) * 2 + surf
        order = np.lexsort((d.t[cand], key))
        P, key, surf = cand[order], key[order], surf[order]
        tt = d.t[P]
        f = d.cpr_fmt[P].astype(np.int64)
        latc, lonc = d.lat_cpr[P].astype(np.float64), d.lon_cpr[P].astype(np.float64)
        new = is_new[P] & pos_rows[P]
        n = P.size
        ar = np.arange(n)
        last_e = np.maximum.accumulate(np.where(f == 0, ar, -1))
        last_o = np.maximum.accumulate(np.where(f == 1, ar, -1))
        partner = np.where(f == 0, last_o, last_e)
        pz = np.maximum(partner, 0)
        paired = new & (partner >= 0) & (key[pz] == key) & (tt - tt[pz] <= self.pair_window_s) & (f >= 0)
        even_newer = f == 0
        le = np.where(even_newer, latc, latc[pz])
        lo = np.where(even_newer, lonc, lonc[pz])
        oe = np.where(even_newer, latc[pz], latc)
        oo = np.where(even_newer, lonc[pz], lonc)
        lat = np.where(fixed[P], d.lat[P], np.nan)
        lon = np.where(fixed[P], d.lon[P], np.nan)
        kind = np.where(fixed[P], d.pos_kind[P], 0).astype(np.int8)
        ap = np.flatnonzero(paired & ~surf)
        if ap.size:
            la, lo_ = cpr.airborne_pair(le[ap], lo[ap], oe[ap], oo[ap], even_newer[ap])
            lat[ap], lon[ap] = la, lo_
            kind[ap] = np.where(np.isnan(la), 0, KIND_AIR_GLOBAL)
            c["cpr_zone_mismatch"] += int(np.isnan(la).sum())
        sp = np.flatnonzero(paired & surf)
        if sp.size:
            rlat, rlon = self._surface_refs(d.icao[P], lat, lon, surf, sp)
            has = ~np.isnan(rlat)
            c["surface_no_reference"] += int((~has).sum())
            la, lo_ = cpr.surface_pair(le[sp], lo[sp], oe[sp], oo[sp], even_newer[sp], rlat, rlon)
            la, lo_ = np.where(has, la, np.nan), np.where(has, lo_, np.nan)
            lat[sp], lon[sp] = la, lo_
            kind[sp] = np.where(np.isnan(la), 0, KIND_SURF_GLOBAL)
        # local decoding of the rest against the nearest anchor of the same aircraft and kind
        anchor = ~np.isnan(lat)
        todo = new & ~anchor
        if todo.any() and anchor.any():
            prev = np.maximum.accumulate(np.where(anchor, ar, -1))
            nxt = np.minimum.accumulate(np.where(anchor, ar, n)[::-1])[::-1]
            pv, nx = np.maximum(prev, 0), np.minimum(nxt, n - 1)
            win = np.where(surf, self.surface_window_s, self.local_window_s)
            dp = np.where((prev >= 0) & (key[pv] == key), tt - tt[pv], np.inf)
            dn = np.where((nxt < n) & (key[nx] == key), tt[nx] - tt, np.inf)
            ref = np.where(dp <= dn, pv, nx)
            ok = todo & (np.minimum(dp, dn) <= win)
            for is_surf, fn, k in ((False, cpr.airborne_local, KIND_AIR_LOCAL),
                                   (True, cpr.surface_local, KIND_SURF_LOCAL)):
                rows = np.flatnonzero(ok & (surf == is_surf))
                if rows.size:
                    la, lo_ = fn(f[rows], latc[rows], lonc[rows], lat[ref[rows]], lon[ref[rows]])
                    lat[rows], lon[rows], kind[rows] = la, lo_, k
        by_ref = np.where(fixed[P], d.cpr_ref[P], False)
        if self.reference is not None:
            rows = np.flatnonzero(new & np.isnan(lat))
            if rows.size:
                la, lo_ = self._against_reference(f[rows], latc[rows], lonc[rows], surf[rows])
                lat[rows], lon[rows] = la, lo_
                kind[rows] = np.where(surf[rows], KIND_SURF_LOCAL, KIND_AIR_LOCAL)
                by_ref[rows] = ~np.isnan(la)
        got = new & ~np.isnan(lat)
        c["cpr_unpaired"] += int((new & ~got).sum())
        self._jump_filter(d.icao[P], tt, lat, lon, fixed[P], new)
        d.lat[P] = np.where(new | fixed[P], lat, d.lat[P])
        d.lon[P] = np.where(new | fixed[P], lon, d.lon[P])
        d.pos_kind[P] = np.where(new | fixed[P], np.where(np.isnan(lat), 0, kind), d.pos_kind[P])
        by_ref &= ~np.isnan(lat)
        d.cpr_ref[P] = np.where(new | fixed[P], by_ref, d.cpr_ref[P])
        c["positions_global"] += int((new & ((kind == KIND_AIR_GLOBAL) | (kind == KIND_SURF_GLOBAL))
                                      & ~np.isnan(lat)).sum())
        c["positions_local"] += int((new & ((kind == KIND_AIR_LOCAL) | (kind == KIND_SURF_LOCAL))
                                     & ~np.isnan(lat) & ~by_ref).sum())
        if by_ref.any():
            c["positions_ref"] += int((new & by_ref).sum())

    def _against_reference(self, fmt: np.ndarray, lat_c: np.ndarray, lon_c: np.ndarray,
                           surf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local decoding of single frames against the receiver reference; NaN beyond its range."""
        assert self.reference is not None
        rlat, rlon = self.reference
        lat, lon = np.full(fmt.size, np.nan), np.full(fmt.size, np.nan)
        for is_surf, fn, limit_nm in ((False, cpr.airborne_local, REF_RANGE_AIR_NM),
                                      (True, cpr.surface_local, REF_RANGE_SURFACE_NM)):
            rows = np.flatnonzero(surf == is_surf)
            if rows.size == 0:
                continue
            la, lo = fn(fmt[rows], lat_c[rows], lon_c[rows], np.full(rows.size, rlat), np.full(rows.size, rlon))
            with np.errstate(invalid="ignore"):
                near = haversine_m(la, lo, rlat, rlon) < limit_nm * NM_M  # NaN compares False
            self.counters["cpr_ref_out_of_range"] += int((~near & ~np.isnan(la)).sum())
            lat[rows], lon[rows] = np.where(near, la, np.nan), np.where(near, lo, np.nan)
        return lat, lon

    def _surface_refs(self, icao: np.ndarray, lat: np.ndarray, lon: np.ndarray, surf: np.ndarray,
                      rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reference per surface row, to pick the 90-degree quadrant.

        The receiver's (``reference``) if given; else the aircraft's own last airborne fix;
        else the *region* of the feed — the median of all airborne fixes — when those lie
        within :data:`REGION_SPAN_DEG` (one receiver's coverage, so any of them is far
        closer than the 45 degrees the quadrant choice tolerates).
        """
        if self.reference is not None:
            return np.full(rows.size, self.reference[0]), np.full(rows.size, self.reference[1])
        have = np.flatnonzero(~np.isnan(lat) & ~surf)
        rlat, rlon = np.full(rows.size, np.nan), np.full(rows.size, np.nan)
        if have.size:
            # any fix of the same aircraft resolves the 90-degree ambiguity; take the last one
            keys = icao[have]
            order = np.argsort(keys, kind="stable")
            keys, hv = keys[order], have[order]
            last = np.r_[keys[1:] != keys[:-1], True]
            keys, hv = keys[last], hv[last]
            pos = np.minimum(np.searchsorted(keys, icao[rows]), keys.size - 1)
            hit = keys[pos] == icao[rows]
            rlat[hit], rlon[hit] = lat[hv[pos[hit]]], lon[hv[pos[hit]]]
            la, lo = lat[have], lon[have]
            if np.ptp(la) <= REGION_SPAN_DEG and np.ptp(lo) <= REGION_SPAN_DEG:
                self._region = (float(np.median(la)), float(np.median(lo)))
        missing = np.isnan(rlat)
        if missing.any() and self._region is not None:
            rlat[missing], rlon[missing] = self._region
            self.counters["surface_region_reference"] += int(missing.sum())
        return rlat, rlon

    def _jump_filter(self, icao: np.ndarray, t: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                     fixed: np.ndarray, new: np.ndarray) -> None:
        """Reject positions implying an impossible speed (in place: lat/lon set to NaN)."""
        rows = np.flatnonzero(~np.isnan(lat))
        if rows.size < 2:
            return
        order = np.lexsort((t[rows], icao[rows]))
        rows = rows[order]
        same = icao[rows][1:] == icao[rows][:-1]
        dist_km = haversine_m(lat[rows][:-1], lon[rows][:-1], lat[rows][1:], lon[rows][1:]) / 1000.0
        dt_h = np.abs(t[rows][1:] - t[rows][:-1]) / 3600.0
        bad = same & (dist_km > self.max_speed_kmh * dt_h + self.margin_km)
        if not bad.any():
            return
        for a in np.unique(icao[rows][1:][bad]):
            seq = rows[icao[rows] == a]
            self._jump_sequence(seq, t, lat, lon, fixed, new)

    def _jump_sequence(self, seq: np.ndarray, t: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                       fixed: np.ndarray, new: np.ndarray) -> None:
        ref = -1
        streak: list[tuple[int, float, float]] = []  # rejected rows with their positions
        for i in seq:
            if ref < 0 or fixed[i]:
                ref, streak = i, []
                continue
            if self._reachable(ref, i, t, lat, lon):
                ref, streak = i, []
                continue
            if streak and not self._reachable_xy(streak[-1], i, t, lat, lon):
                streak = []
            streak.append((int(i), float(lat[i]), float(lon[i])))
            if len(streak) >= 3:  # the track itself moved on: the old anchor was the outlier
                self.counters["jump_reanchored"] += 1
                for j, la, lo in streak[:-1]:
                    lat[j], lon[j] = la, lo
                    if new[j]:
                        self.counters["jump_rejected"] -= 1
                ref, streak = i, []
                continue
            if new[i]:
                self.counters["jump_rejected"] += 1
            lat[i] = lon[i] = np.nan

    def _reachable_xy(self, a: tuple[int, float, float], b: int, t: np.ndarray, lat: np.ndarray,
                      lon: np.ndarray) -> bool:
        dist_km = float(haversine_m(a[1], a[2], lat[b], lon[b])) / 1000.0
        return dist_km <= self.max_speed_kmh * abs(t[b] - t[a[0]]) / 3600.0 + self.margin_km

    def _reachable(self, a: int, b: int, t: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> bool:
        if np.isnan(lat[a]) or np.isnan(lat[b]):
            return False
        dist_km = float(haversine_m(lat[a], lon[a], lat[b], lon[b])) / 1000.0
        return dist_km <= self.max_speed_kmh * abs(t[b] - t[a]) / 3600.0 + self.margin_km

    # -- context and the carried tail -----------------------------------------------------
    def _context(self, d: Decoded) -> None:
        """Latest velocity (within the window), callsign and squawk onto each position row."""
        rows = np.flatnonzero(d.ok)
        if rows.size == 0:
            return
        order = np.lexsort((d.t[rows], d.icao[rows]))
        r = rows[order]
        icao = d.icao[r]
        ar = np.arange(r.size)
        tgt = d.pos_kind[r] > 0
        if not tgt.any():
            return
        # surface frames carry their own speed and track
        surf = d.onground[r] == 1
        d.ctx_speed_kt[r[tgt & surf]] = d.speed_kt[r[tgt & surf]]
        d.ctx_track_deg[r[tgt & surf]] = d.track_deg[r[tgt & surf]]
        vel = (d.tc[r] == 19) & ~np.isnan(d.speed_kt[r])
        src = self._ffill(vel, icao, ar)
        okv = tgt & ~surf & (src >= 0)
        okv &= d.t[r] - d.t[r[np.maximum(src, 0)]] <= self.velocity_window_s
        s = r[src[okv]]
        d.ctx_speed_kt[r[okv]] = d.speed_kt[s]
        d.ctx_track_deg[r[okv]] = d.track_deg[s]
        d.ctx_vrate_fpm[r[okv]] = d.vrate_fpm[s]
        # heading comes from the airspeed subtypes (3/4), which some aircraft send instead
        hdg = (d.tc[r] == 19) & ~np.isnan(d.heading_deg[r])
        if hdg.any():
            src = self._ffill(hdg, icao, ar)
            okh = tgt & ~surf & (src >= 0)
            okh &= d.t[r] - d.t[r[np.maximum(src, 0)]] <= self.velocity_window_s
            d.ctx_heading_deg[r[okh]] = d.heading_deg[r[src[okh]]]
            # an aircraft sending only airspeed/heading still gets its vertical rate
            novr = okh & np.isnan(d.ctx_vrate_fpm[r])
            d.ctx_vrate_fpm[r[novr]] = d.vrate_fpm[r[src[novr]]]
        ident = _present(d.callsign[r])
        src = self._ffill(ident, icao, ar)
        okc = tgt & (src >= 0)
        d.ctx_callsign[r[okc]] = d.callsign[r[src[okc]]]
        sq = d.squawk[r] >= 0
        src = self._ffill(sq, icao, ar)
        oks = tgt & (src >= 0)
        d.ctx_squawk[r[oks]] = d.squawk[r[src[oks]]]

    @staticmethod
    def _ffill(has: np.ndarray, key: np.ndarray, ar: np.ndarray) -> np.ndarray:
        """Index of the latest row with ``has`` at or before each row, same key (-1 if none)."""
        src = np.maximum.accumulate(np.where(has, ar, -1))
        same = (src >= 0) & (key[np.maximum(src, 0)] == key)
        return np.where(same, src, -1)

    def _keep_tail(self, d: Decoded, msg: np.ndarray, nb: np.ndarray) -> None:
        """Keep, per aircraft active within ``ttl_s``, the rows the next chunk needs."""
        tmax = float(d.t.max())
        live = d.ok & (d.t >= tmax - self.ttl_s)
        roles = [
            live & (d.cpr_fmt == 0) & (d.onground == 0),
            live & (d.cpr_fmt == 1) & (d.onground == 0),
            live & (d.cpr_fmt == 0) & (d.onground == 1),
            live & (d.cpr_fmt == 1) & (d.onground == 1),
            live & (d.pos_kind > 0) & (d.onground == 0),
            live & (d.pos_kind > 0) & (d.onground == 1),
            live & (d.tc == 19) & ~np.isnan(d.speed_kt),
            live & (d.tc == 19) & ~np.isnan(d.heading_deg),
            live & _present(d.callsign),
            live & (d.squawk >= 0),
        ]
        keep: list[np.ndarray] = []
        for mask in roles:
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue
            order = np.lexsort((d.t[idx], d.icao[idx]))
            idx = idx[order]
            last = np.r_[d.icao[idx][1:] != d.icao[idx][:-1], True]
            keep.append(idx[last])
        idx = np.unique(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
        self._tail = d.take(idx)
        self._tail_msg = msg[idx]
        self._tail_nb = nb[idx]
