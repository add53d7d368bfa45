"""Mode S CRC-24 on whole columns of frames, and single-bit error repair.

Generator polynomial 0x1FFF409 (ICAO Annex 10 Vol IV §3.1.2.3.3). For a frame of
``n`` bytes the parity is computed over the first ``n - 3`` bytes and XORed with the
last three; the result, the *syndrome*, is

* 0 for a clean DF11/17/18 frame (DF11: the interrogator code sits in its low 7 bits);
* the aircraft address for DF0/4/5/16/20/21 (address/parity overlay).

:func:`syndromes` does the byte-table CRC on an ``(N, n)`` ``uint8`` matrix, looping over
the ``n - 3`` byte columns only (no Python loop over frames). :func:`repair_single_bit`
looks each non-zero syndrome of a 112-bit frame up in the table of the 107 single-bit
errors outside the DF field and flips that bit.
"""

from __future__ import annotations

import numpy as np

POLY = 0xFFF409


def _table() -> np.ndarray:
    t = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i << 16
        for _ in range(8):
            c = ((c << 1) ^ POLY) if c & 0x800000 else (c << 1)
        t[i] = c & 0xFFFFFF
    return t


TABLE = _table()


def syndromes(msg: np.ndarray) -> np.ndarray:
    """CRC syndrome of every row of ``msg`` (``(N, n)`` uint8, n = 7 or 14) as uint32."""
    n = msg.shape[1]
    crc = np.zeros(msg.shape[0], dtype=np.uint32)
    for k in range(n - 3):
        idx = ((crc >> 16) ^ msg[:, k]) & 0xFF
        crc = ((crc << 8) & 0xFFFFFF) ^ TABLE[idx]
    parity = (msg[:, n - 3].astype(np.uint32) << 16) | (msg[:, n - 2].astype(np.uint32) << 8) | msg[:, n - 1]
    return crc ^ parity


def _single_bit_syndromes() -> tuple[np.ndarray, np.ndarray]:
    bits = np.arange(5, 112)  # bit 0..4 is the DF: a flip there changes the format, never repaired
    frames = np.zeros((bits.size, 14), dtype=np.uint8)
    frames[np.arange(bits.size), bits // 8] = (0x80 >> (bits % 8)).astype(np.uint8)
    syn = syndromes(frames)
    order = np.argsort(syn)
    return syn[order], bits[order]


_SYN, _BIT = _single_bit_syndromes()


def repair_single_bit(msg: np.ndarray, syn: np.ndarray) -> np.ndarray:
    """Fix one flipped bit in rows of a 112-bit ``msg`` whose syndrome names one.

    Modifies ``msg`` in place for the rows it repairs and returns their boolean mask.
    Rows whose syndrome matches no single-bit error are left as they are.
    """
    pos = np.searchsorted(_SYN, syn)
    pos = np.minimum(pos, _SYN.size - 1)
    hit = (_SYN[pos] == syn) & (syn != 0)
    rows = np.flatnonzero(hit)
    bit = _BIT[pos[rows]]
    msg[rows, bit // 8] ^= (0x80 >> (bit % 8)).astype(np.uint8)
    return hit
