"""Multi-sentence AIS messages joined as whole columns.

:func:`chains` gives, for fragments in line order, exactly what feeding them one by one to
:class:`~sitewatch.sources.ais._sentences.Assembler` (starting from nothing pending) gives:
which runs of fragments form complete messages, which are still open at the end (to carry
into the next chunk) and which are orphans to quarantine. The rules are the assembler's:
per (sequence id, channel), fragment 1 opens a message; fragment k continues it only if the
previous fragment of that key was k−1 of the same count; anything else leaves the open
fragments, and a fragment that continues nothing, incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


@dataclass
class Chains:
    order: I64  # fragments sorted by (key, line): positions below index this order
    first: I64  # complete messages: position of their first fragment …
    last: I64  # … and of their last (the message is first..last)
    open: I64  # fragments of the message each key has open at the end, in line order
    orphans: I64  # fragments that belong to no complete or open message


def chains(key: I64, num: I64, cnt: I64) -> Chains:
    """Join fragments (``cnt > 1``, ``1 <= num <= cnt``), given in line order."""
    n = len(key)
    order = np.argsort(key, kind="stable")
    k, nu, c = key[order], num[order], cnt[order]
    link = np.zeros(n, dtype=bool)  # fragment continues the one before it (same key, next number)
    link[1:] = (k[1:] == k[:-1]) & (nu[1:] == nu[:-1] + 1) & (c[1:] == c[:-1])
    idx = np.arange(n)
    start = np.where(link, 0, idx)
    np.maximum.accumulate(start, out=start)  # first fragment of each fragment's run
    is_end = np.ones(n, dtype=bool)
    is_end[:-1] = ~link[1:]
    ends = np.flatnonzero(is_end)
    starts = start[ends]
    opened = nu[starts] == 1  # a run that does not start with fragment 1 continues nothing
    complete = opened & (nu[ends] == c[ends])
    key_last = np.ones(n, dtype=bool)
    key_last[:-1] = k[1:] != k[:-1]
    still_open = opened & ~complete & key_last[ends]
    run_of = np.cumsum(~link) - 1  # which run each fragment is in (runs in order = ends)
    status = np.where(complete, 1, np.where(still_open, 2, 0))[run_of]
    return Chains(order, starts[complete], ends[complete], np.flatnonzero(status == 2),
                  np.flatnonzero(status == 0))
