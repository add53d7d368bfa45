"""``traffic`` format: trajectory tables written by the ``traffic`` library (JSON, CSV, Parquet).

Layout (traffic's ``Flight``/``Traffic`` data): one row per state with ``timestamp``
(epoch milliseconds in pandas JSON, a timestamp in Parquet, ISO text in CSV), ``icao24``,
``latitude``, ``longitude`` and optionally ``altitude`` (ft), ``groundspeed`` (kt),
``track`` (deg), ``vertical_rate`` (ft/min), ``heading``, ``onground``, ``callsign``,
``squawk``. JSON may be a pandas ``orient="records"`` array (what traffic's samples are),
JSON lines, or ``orient="columns"``/``"split"`` objects.

Rows without a position (traffic keeps states that carry only an altitude or a speed)
are counted as ``no_position``; broken records are quarantined with their record number
(``offset_unit='record'``; ``'line'`` for JSON lines and CSV, ``'row'`` for Parquet).
Parquet files whose columns are OpenSky's are read with the OpenSky map.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sitewatch.errors import FormatError
from sitewatch.sources.adsb import _tabular as T
from sitewatch.sources.adsb._common import BATCH_ROWS, iter_json_records, watch_filtered
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register, text_lines

FORMAT = "traffic"
MAX_WHOLE_JSON_BYTES = 512 << 20  # orient=columns/split must be parsed whole; refuse beyond this


@register
class TrafficReader:
    kind = "adsb"
    name = FORMAT

    def sniff(self, head: bytes, name: str) -> float:
        if head[:4] == b"PAR1":
            return 0.5  # traffic and OpenSky Parquet look alike until the footer is read
        h = head.lstrip()
        if h[:1] in (b"[", b"{") and b'"icao24"' in h and b'"timestamp"' in h and b'"frame"' not in h:
            return 0.85 if (b'"latitude"' in h or b'"altitude"' in h) else 0.5
        first = head.split(b"\n", 1)[0].lower()
        if b"icao24" in first and b"timestamp" in first and b"latitude" in first and b"," in first:
            return 0.8
        return 0.0

    @watch_filtered
    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        head = src.head()
        if head[:4] == b"PAR1":
            yield from T.read_parquet(src, (T.TRAFFIC, T.OPENSKY), FORMAT)
            return
        h = head.lstrip()
        if h[:1] == b"[":
            yield from _read_array(src)
        elif h[:1] == b"{":
            yield from _read_object_or_lines(src)
        else:
            yield from T.read_csv(src, (T.TRAFFIC,), FORMAT)


def _read_array(src: InputFile) -> Iterator[Batch]:
    recs: list[dict[str, Any]] = []
    offs: list[int] = []
    rejects: list[Reject] = []
    with src.open() as f:
        try:
            for n, value, err in iter_json_records(f):
                if err is not None:
                    rejects.append(Reject(n, str(value), err, "record"))
                elif not isinstance(value, dict):
                    rejects.append(Reject(n, json.dumps(value)[:2000], "record is not a JSON object", "record"))
                else:
                    recs.append(value)
                    offs.append(n)
                if len(recs) >= BATCH_ROWS:
                    yield _batch(recs, offs, rejects, "record", src.name)
                    recs, offs, rejects = [], [], []
        except ValueError as exc:
            raise FormatError(f"not a traffic JSON file: {exc}", path=src.name) from None
    if recs or rejects:
        yield _batch(recs, offs, rejects, "record", src.name)


def _batch(recs: list[dict[str, Any]], offs: list[int], rejects: list[Reject], unit: str,
           name: str) -> Batch:
    if recs and not T.TRAFFIC.fits(list(recs[0])) and not T.TRAFFIC.fits(
            list({k for r in recs[:100] for k in r})):
        missing = [c for c in T.TRAFFIC.required if all(c not in r for r in recs[:100])]
        if missing:
            raise FormatError(f"records lack the traffic columns {missing}", path=name)
    b = T.records_batch(recs, offs, T.TRAFFIC, FORMAT, unit)
    b.rejects[:0] = rejects
    return b


def _read_object_or_lines(src: InputFile) -> Iterator[Batch]:
    lines = text_lines(src)
    first_no, first = next(lines, (0, ""))
    try:
        obj = json.loads(first)
        is_lines = isinstance(obj, dict) and "icao24" in obj
    except json.JSONDecodeError:
        is_lines = False
    if not is_lines:
        yield from _read_whole_object(src)
        return
    recs: list[dict[str, Any]] = [obj]
    offs = [first_no]
    rejects: list[Reject] = []
    for no, line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("line is not a JSON object")
        except ValueError as exc:
            rejects.append(Reject(no, line, f"broken JSON: {exc}"))
            continue
        recs.append(rec)
        offs.append(no)
        if len(recs) >= BATCH_ROWS:
            yield _batch(recs, offs, rejects, "line", src.name)
            recs, offs, rejects = [], [], []
    if recs or rejects:
        yield _batch(recs, offs, rejects, "line", src.name)


def _read_whole_object(src: InputFile) -> Iterator[Batch]:
    with src.open() as f:
        data = f.read(MAX_WHOLE_JSON_BYTES + 1)
    if len(data) > MAX_WHOLE_JSON_BYTES:
        raise FormatError("a pandas orient=columns/split JSON over 512 MiB cannot be streamed; "
                          "write it as orient='records' or Parquet", path=src.name)
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise FormatError(f"broken JSON at character {exc.pos}: {exc.msg}", path=src.name) from None
    if isinstance(doc, dict) and "columns" in doc and "data" in doc:  # orient="split"
        cols = list(doc["columns"])
        rows = [dict(zip(cols, r, strict=False)) for r in doc["data"]]
    elif isinstance(doc, dict) and all(isinstance(v, dict) for v in doc.values()):  # orient="columns"
        index = list(next(iter(doc.values()), {}).keys())
        rows = [{c: doc[c].get(i) for c in doc} for i in index]
    else:
        raise FormatError("JSON object is neither pandas orient='split' nor 'columns'", path=src.name)
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start:start + BATCH_ROWS]
        yield _batch(chunk, list(range(start + 1, start + 1 + len(chunk))), [], "record", src.name)
