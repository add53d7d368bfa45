"""sitewatch's own AIS decoder: whole columns of payloads at once (NumPy).

Decodes message types 1, 2, 3 (class A position), 4 and 11 (base station / UTC), 5 (static
and voyage), 18 and 19 (class B), 24 (static, parts A and B) and 27 (long range) — almost
all AIS volume. Field values equal pyais 3.3's (the test oracle). Other types are
reported as such, never guessed at.

    >>> from sitewatch.aisdec import decode
    >>> d = decode([b"13HOI:0P0000VOHLCnHQKwvL05Ip"], [0])
    >>> g = d.groups["class_a"]
    >>> int(g.cols["mmsi"][0]), float(g.cols["lat"][0]), float(g.cols["lon"][0])
    (227006760, 49.475577, 0.13138)
"""

from sitewatch.aisdec._layouts import LAYOUTS, TYPE_LAYOUT
from sitewatch.aisdec.decode import Decoded, Group, decode, decode_buffer

__all__ = ["LAYOUTS", "TYPE_LAYOUT", "Decoded", "Group", "decode", "decode_buffer"]
