"""Aircraft identity: military ICAO address blocks and aircraft databases (tar1090-db, OpenSky).

* :data:`MILITARY_RANGES` — 24-bit address blocks assigned to military operators (the
  blocks readsb/tar1090 flag as military; public ICAO allocation facts).
  :func:`military_by_address` tests a whole column at once. A tar1090-db folder's own
  ``ranges.json`` replaces them when loaded (:func:`load_ranges`).
* :func:`read_tar1090` streams a tar1090-db folder (``db/*.js`` are **gzip JSON** despite
  the name; each file is keyed by an address prefix, its keys are the remaining digits,
  values ``[registration, ICAO type, flags, description]``, flags' first char ``1`` =
  military) as ``aircraft`` rows.
* :func:`read_opensky_csv` streams OpenSky's ``aircraftDatabase.csv``.

Rows are Arrow tables in the ``aircraft`` table layout; ``type_name`` falls back to the
types-of-interest table (:mod:`sitewatch.reference.types`) when the source has none.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sitewatch.errors import FormatError, InputError
from sitewatch.reference import types as T

_TS = pa.timestamp("us", tz="UTC")

MILITARY_RANGES: tuple[tuple[int, int], ...] = tuple((int(a, 16), int(b, 16)) for a, b in (
    ("adf7c8", "afffff"), ("010070", "01008f"), ("0a4000", "0a4fff"), ("33ff00", "33ffff"),
    ("350000", "37ffff"), ("3aa000", "3affff"), ("3b7000", "3bffff"), ("3ea000", "3ebfff"),
    ("3f4000", "3fbfff"), ("400000", "40003f"), ("43c000", "43cfff"), ("444000", "446fff"),
    ("44f000", "44ffff"), ("457000", "457fff"), ("45f400", "45f4ff"), ("468000", "4683ff"),
    ("473c00", "473c0f"), ("478100", "4781ff"), ("480000", "480fff"), ("48d800", "48d87f"),
    ("497c00", "497cff"), ("498420", "49842f"), ("4b7000", "4b7fff"), ("4b8200", "4b82ff"),
    ("70c070", "70c07f"), ("710258", "71028f"), ("710380", "71039f"), ("738a00", "738aff"),
    ("7cf800", "7cfaff"), ("800200", "8002ff"), ("c20000", "c3ffff"), ("e40000", "e41fff"),
))


def _bounds(ranges: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    r = sorted(ranges)
    return np.array([a for a, _ in r], np.int64), np.array([b for _, b in r], np.int64)


_LO, _HI = _bounds(MILITARY_RANGES)


def military_by_address(icao: np.ndarray | list[int]) -> np.ndarray:
    """True where a 24-bit address lies in a military block (vectorised)."""
    a = np.asarray(icao, dtype=np.int64)
    i = np.searchsorted(_LO, a, side="right") - 1
    ok = i >= 0
    return ok & (a <= _HI[np.maximum(i, 0)])


def load_ranges(path: str | Path) -> tuple[tuple[int, int], ...]:
    """Read a tar1090-db ``ranges.json`` (``{"military": [[lo, hi], …]}``) and use it."""
    global _LO, _HI
    try:
        doc = json.loads(Path(path).read_text())
        ranges = tuple((int(a, 16), int(b, 16)) for a, b in doc["military"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"not a tar1090-db ranges.json: {exc}", path=str(path)) from None
    _LO, _HI = _bounds(ranges)
    return ranges


def _type_name(code: str | None, desc: str | None) -> str | None:
    if desc:
        return desc
    t = T.lookup(code)
    return t.name if t else None


def read_tar1090(folder: str | Path, watch_types: tuple[str, ...] = (),
                 batch_rows: int = 100_000) -> Iterator[pa.Table]:
    """Stream a tar1090-db folder as ``aircraft`` rows (optionally only ``watch_types``)."""
    root = Path(folder)
    db = root / "db" if (root / "db").is_dir() else root
    # address-prefix files only (the folder also holds files.js, airport-coords.js, …)
    files = sorted(f for f in db.glob("*.js") if all(ch in "0123456789ABCDEFabcdef" for ch in f.stem))
    if not files:
        raise InputError("no db/*.js files: is this a tar1090-db folder?", path=str(root))
    if (root / "ranges.json").is_file():
        load_ranges(root / "ranges.json")
    now = datetime.now(UTC)
    rows: dict[str, list[Any]] = _new_rows()
    for f in files:
        prefix = f.stem.upper()
        try:
            raw = f.read_bytes()
            doc = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        except (OSError, ValueError) as exc:
            raise FormatError(f"not gzip JSON ({exc}); tar1090-db files are gzip-compressed JSON",
                              path=str(f)) from None
        if not isinstance(doc, dict):
            raise FormatError("expected a JSON object keyed by address digits", path=str(f))
        for suffix, v in doc.items():
            if suffix == "children" or not isinstance(v, list) or len(v) < 2:
                continue
            icao = (prefix + suffix).lower()
            if len(icao) != 6:
                continue
            reg, code = v[0] or None, (v[1] or None)
            if watch_types and (code or "").upper() not in watch_types:
                continue
            flags = v[2] if len(v) > 2 and isinstance(v[2], str) else ""
            desc = v[3] if len(v) > 3 and isinstance(v[3], str) else None
            _add(rows, icao, reg, code, _type_name(code, desc), None, flags[:1] == "1", "tar1090-db", now)
            if len(rows["icao24"]) >= batch_rows:
                yield _table(rows)
                rows = _new_rows()
    if rows["icao24"]:
        yield _table(rows)


def read_opensky_csv(path: str | Path, watch_types: tuple[str, ...] = (),
                     batch_rows: int = 100_000) -> Iterator[pa.Table]:
    """Stream OpenSky's aircraft database CSV (``icao24,registration,…,typecode,…,operator``)."""
    import csv

    now = datetime.now(UTC)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:  # type: ignore[operator]
        reader = csv.DictReader(fh, quotechar="'" if _single_quoted(path) else '"')
        need = {"icao24", "registration", "typecode"}
        if not reader.fieldnames or not need <= {n.strip() for n in reader.fieldnames}:
            raise FormatError(f"not an OpenSky aircraft database: needs columns {sorted(need)}", path=str(path))
        rows = _new_rows()
        for raw_rec in reader:
            rec = {(k or "").strip().lower(): v for k, v in raw_rec.items()}
            icao = (rec.get("icao24") or "").strip().lower()
            if len(icao) != 6:
                continue
            code = (rec.get("typecode") or "").strip().upper() or None
            if watch_types and (code or "") not in watch_types:
                continue
            name = " ".join(x for x in ((rec.get("manufacturername") or "").strip(),
                                        (rec.get("model") or "").strip()) if x) or None
            op = (rec.get("operator") or rec.get("owner") or "").strip() or None
            if not all(ch in "0123456789abcdef" for ch in icao):
                continue
            _add(rows, icao, (rec.get("registration") or "").strip() or None, code,
                 _type_name(code, name), op, False, "opensky-db", now)
            if len(rows["icao24"]) >= batch_rows:
                yield _table(rows)
                rows = _new_rows()
        if rows["icao24"]:
            yield _table(rows)


def _single_quoted(path: str | Path) -> bool:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:  # type: ignore[operator]
        return str(fh.readline()).startswith("'")


def _new_rows() -> dict[str, list[Any]]:
    return {k: [] for k in ("icao24", "registration", "typecode", "type_name", "operator", "military",
                            "db_source", "t_updated_utc")}


def _add(rows: dict[str, list[Any]], icao: str, reg: str | None, code: str | None, name: str | None,
         op: str | None, mil: bool, src: str, now: datetime) -> None:
    for k, v in zip(rows, (icao, reg, code, name, op, mil, src, now), strict=True):
        rows[k].append(v)


def _table(rows: dict[str, list[Any]]) -> pa.Table:
    """Rows → Arrow; the military flag is the source's flag OR the address range."""
    addr = np.array([int(a, 16) for a in rows["icao24"]], np.int64)
    mil = np.array(rows["military"], bool) | military_by_address(addr)
    return pa.table({
        "icao24": pa.array(rows["icao24"], pa.string()),
        "registration": pa.array(rows["registration"], pa.string()),
        "typecode": pa.array(rows["typecode"], pa.string()),
        "type_name": pa.array(rows["type_name"], pa.string()),
        "operator": pa.array(rows["operator"], pa.string()),
        "military": pa.array(mil, pa.bool_()),
        "db_source": pa.array(rows["db_source"], pa.string()),
        "t_updated_utc": pa.array(rows["t_updated_utc"], _TS),
    })
