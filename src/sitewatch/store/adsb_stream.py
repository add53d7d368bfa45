"""Store side of ``stream adsb``: one ``ingest_log`` row per live session, one transaction per batch.

Contract: :func:`open_session` creates the session's ``ingest_log`` row (its rows carry
this ``file_id``); :func:`write_batches` writes a list of reader batches — positions,
aircraft (new addresses only), quarantined records, counters — in **one transaction**,
so a crash loses at most the batch being built; :func:`close_session` records totals.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pyarrow as pa

from sitewatch.sources.base import Batch
from sitewatch.store.db import Store

_TS = pa.timestamp("us", tz="UTC")


def open_session(store: Store, source: str, fmt: str, options: dict[str, object]) -> int:
    file_id = store.next_file_id()
    store.insert("ingest_log", pa.table({
        "file_id": pa.array([file_id], pa.int64()), "path": [source],
        "sha256": [f"stream:{uuid.uuid4().hex}"], "kind": ["adsb"], "format": [f"{fmt}-stream"],
        "accepted": pa.array([0], pa.int64()), "rejected": pa.array([0], pa.int64()),
        "duplicates": pa.array([0], pa.int64()),
        "t_start_utc": pa.array([datetime.now(UTC)], _TS),
        "options": [json.dumps(options, sort_keys=True)],
    }), dedupe=False)
    return file_id


def write_batches(store: Store, file_id: int, source: str, batches: list[Batch]) -> tuple[int, int, int]:
    """Write one live batch atomically; returns (accepted, duplicates, rejected)."""
    accepted = duplicates = rejected = 0
    counters: dict[str, int] = {}
    now = datetime.now(UTC)
    with store.transaction():
        for b in batches:
            rows = b.rows
            if rows.num_rows:
                if b.table == "positions":
                    rows = rows.append_column("file_id", pa.repeat(pa.scalar(file_id, pa.int64()), rows.num_rows))
                n = store.insert(b.table, rows)
                if b.table == "positions":
                    accepted += n
                    duplicates += rows.num_rows - n
            if b.rejects:
                store.insert("quarantine", pa.table({
                    "file_id": pa.array([file_id] * len(b.rejects), pa.int64()),
                    "path": [source] * len(b.rejects),
                    "rec_offset": pa.array([r.offset for r in b.rejects], pa.int64()),
                    "offset_unit": [r.offset_unit for r in b.rejects],
                    "raw": [r.raw[:2000] for r in b.rejects],
                    "reason": [r.reason for r in b.rejects],
                    "t_utc": pa.array([now] * len(b.rejects), _TS),
                }), dedupe=False)
                rejected += len(b.rejects)
            for k, v in b.counters.items():
                counters[k] = counters.get(k, 0) + int(v)
        if counters:
            store.insert("ingest_stats", pa.table({
                "file_id": pa.array([file_id] * len(counters), pa.int64()),
                "name": list(counters), "value": pa.array(list(counters.values()), pa.int64()),
            }), dedupe=False)
        store.sql("UPDATE ingest_log SET accepted = accepted + ?, rejected = rejected + ?, "
                  "duplicates = duplicates + ?, t_end_utc = ? WHERE file_id = ?",
                  [accepted, rejected, duplicates, now, file_id])
    return accepted, duplicates, rejected


def close_session(store: Store, file_id: int) -> None:
    store.sql("UPDATE ingest_log SET t_end_utc = ? WHERE file_id = ?", [datetime.now(UTC), file_id])
