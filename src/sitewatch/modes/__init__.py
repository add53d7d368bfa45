"""A columnar (NumPy) Mode S / ADS-B decoder: whole chunks of frames per call, no loop per frame.

Public surface: :class:`ModeSDecoder` (stateful, chunked), :class:`Decoded` (its per-frame
columns), :func:`from_hex` (text frames → byte matrix) and :func:`decode_hex` (one-shot).
pyModeS is the correctness oracle in the tests; it is never imported here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sitewatch.modes.decoder import Decoded, ModeSDecoder
from sitewatch.modes.frames import from_hex

__all__ = ["Decoded", "ModeSDecoder", "decode_hex", "from_hex"]


def decode_hex(frames: Sequence[str], t_s: Sequence[float] | np.ndarray,
               reference: tuple[float, float] | None = None) -> tuple[Decoded, dict[str, int]]:
    """Decode hex frames with times in seconds in one call; returns rows and counters."""
    msg, nbytes, _ = from_hex(frames)
    dec = ModeSDecoder(reference=reference)
    out = dec.decode(msg, nbytes, np.asarray(t_s, dtype=np.float64))
    return out, dict(dec.counters)
