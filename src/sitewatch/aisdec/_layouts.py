"""Bit layouts of the AIS messages sitewatch decodes itself (ITU-R M.1371-5, gpsd AIVDM).

Each layout is a tuple of ``(name, width_bits, kind)`` in transmission order; offsets are
the running sum. Kinds and their conversions (the same as pyais 3.3, our test oracle):

========== ================================================================
``u``      unsigned integer
``i``      signed (two's complement) integer
``b``      boolean (bit set)
``f``      unsigned integer as float
``tenth``  unsigned integer / 10 (speed in knots, course and draught)
``ll``     signed 1/10000 minute → degrees, rounded to 6 decimals
``ll600``  signed 1/10 minute → degrees (type 27), rounded to 6 decimals
``rot``    signed rate-of-turn indicator → degrees/minute (±127, −128 kept as markers)
``str``    6-bit text, trailing ``@`` and blanks removed
``-``      spare, skipped
========== ================================================================

Type 1/2/3 (class A position), 168 bits::

    0      6  8                       38   42       50         60 61
    |type  |rp| mmsi (30)             |stat| rot(8) | sog(10)  |acc| lon (28) …
    … 89 lat (27) … 116 cog (12) 128 hdg (9) 137 sec (6) 143 man 145 spare 148 raim 149 radio (19)
"""

from __future__ import annotations

Field = tuple[str, int, str]

_HEAD: tuple[Field, ...] = (("msg_type", 6, "u"), ("repeat", 2, "u"), ("mmsi", 30, "u"))
_DIMS: tuple[Field, ...] = (("to_bow", 9, "u"), ("to_stern", 9, "u"), ("to_port", 6, "u"),
                            ("to_starboard", 6, "u"))

CLASS_A = (*_HEAD,
    ("status", 4, "u"), ("turn", 8, "rot"), ("speed", 10, "tenth"), ("accuracy", 1, "b"),
    ("lon", 28, "ll"), ("lat", 27, "ll"), ("course", 12, "tenth"), ("heading", 9, "u"),
    ("second", 6, "u"), ("maneuver", 2, "u"), ("spare_1", 3, "-"), ("raim", 1, "b"), ("radio", 19, "u"),
)
BASE_STATION = (*_HEAD,  # types 4 and 11
    ("year", 14, "u"), ("month", 4, "u"), ("day", 5, "u"), ("hour", 5, "u"), ("minute", 6, "u"),
    ("second", 6, "u"), ("accuracy", 1, "b"), ("lon", 28, "ll"), ("lat", 27, "ll"), ("epfd", 4, "u"),
    ("spare_1", 10, "-"), ("raim", 1, "b"), ("radio", 19, "u"),
)
STATIC_VOYAGE = (*_HEAD,  # type 5, 424 bits over two sentences
    ("ais_version", 2, "u"), ("imo", 30, "u"), ("callsign", 42, "str"), ("shipname", 120, "str"),
    ("ship_type", 8, "u"), *_DIMS, ("epfd", 4, "u"), ("month", 4, "u"), ("day", 5, "u"),
    ("hour", 5, "u"), ("minute", 6, "u"), ("draught", 8, "tenth"), ("destination", 120, "str"),
    ("dte", 1, "b"), ("spare_1", 1, "-"),
)
CLASS_B = (*_HEAD,  # type 18
    ("reserved_1", 8, "u"), ("speed", 10, "tenth"), ("accuracy", 1, "b"), ("lon", 28, "ll"),
    ("lat", 27, "ll"), ("course", 12, "tenth"), ("heading", 9, "u"), ("second", 6, "u"),
    ("reserved_2", 2, "u"), ("cs", 1, "b"), ("display", 1, "b"), ("dsc", 1, "b"), ("band", 1, "b"),
    ("msg22", 1, "b"), ("assigned", 1, "b"), ("raim", 1, "b"), ("radio", 20, "u"),
)
CLASS_B_EXT = (*_HEAD,  # type 19
    ("reserved_1", 8, "u"), ("speed", 10, "tenth"), ("accuracy", 1, "b"), ("lon", 28, "ll"),
    ("lat", 27, "ll"), ("course", 12, "tenth"), ("heading", 9, "u"), ("second", 6, "u"),
    ("reserved_2", 4, "u"), ("shipname", 120, "str"), ("ship_type", 8, "u"), *_DIMS,
    ("epfd", 4, "u"), ("raim", 1, "b"), ("dte", 1, "b"), ("assigned", 1, "b"), ("spare_1", 4, "-"),
)
STATIC_A = (*_HEAD, ("partno", 2, "u"), ("shipname", 120, "str"), ("spare_1", 8, "-"))  # 24 part A
_STATIC_B_HEAD = (*_HEAD,
    ("partno", 2, "u"), ("ship_type", 8, "u"), ("vendorid", 18, "str"), ("model", 4, "u"),
    ("serial", 20, "u"), ("callsign", 42, "str"),
)
STATIC_B = (*_STATIC_B_HEAD, *_DIMS, ("spare_1", 6, "-"))  # 24 part B
STATIC_B_AUX = (*_STATIC_B_HEAD, ("mothership_mmsi", 30, "u"), ("spare_1", 6, "-"))  # 24 B, 98MIDxxxx
LONG_RANGE = (*_HEAD,  # type 27, 96 bits
    ("accuracy", 1, "b"), ("raim", 1, "b"), ("status", 4, "u"), ("lon", 18, "ll600"),
    ("lat", 17, "ll600"), ("speed", 6, "f"), ("course", 9, "f"), ("gnss", 1, "b"), ("spare_1", 1, "-"),
)

# layout name → fields; the decoder picks the layout per message type (24 by part and MMSI)
LAYOUTS: dict[str, tuple[Field, ...]] = {
    "class_a": CLASS_A,
    "base_station": BASE_STATION,
    "static_voyage": STATIC_VOYAGE,
    "class_b": CLASS_B,
    "class_b_ext": CLASS_B_EXT,
    "static_a": STATIC_A,
    "static_b": STATIC_B,
    "static_b_aux": STATIC_B_AUX,
    "long_range": LONG_RANGE,
}
TYPE_LAYOUT: dict[int, str] = {
    1: "class_a", 2: "class_a", 3: "class_a", 4: "base_station", 11: "base_station",
    5: "static_voyage", 18: "class_b", 19: "class_b_ext", 27: "long_range",
}  # type 24 is split by part number in the decoder

# types pyais knows but sitewatch does not decode (no vessel position or identity we use)
OTHER_TYPES = frozenset(range(1, 28)) - set(TYPE_LAYOUT) - {24}


def offsets(fields: tuple[Field, ...]) -> list[tuple[str, int, int, str]]:
    """(name, offset, width, kind) for each field of a layout."""
    out = []
    o = 0
    for name, width, kind in fields:
        out.append((name, o, width, kind))
        o += width
    return out
