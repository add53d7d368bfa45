"""SQL for AIS vessel identity: the latest static fields per MMSI, and replacing ``vessels``.

Used by :mod:`sitewatch.vessels`; nothing else here speaks for AIS.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sitewatch.store.db import Store

_FIELDS = ("name", "callsign", "imo", "ship_type", "length_m", "width_m", "draught_m", "destination")


def latest_static(store: Store) -> pa.Table:
    """One row per MMSI seen (in reports or AIS positions): the latest non-null value of each static field."""
    picks = ",\n  ".join(f"arg_max({f}, t_utc) FILTER (WHERE {f} IS NOT NULL) AS {f}" for f in _FIELDS)
    return store.arrow(
        f"""
        WITH latest AS (
          SELECT mmsi,
          {picks},
          max(t_utc) AS t_updated_utc
          FROM vessel_reports GROUP BY mmsi
        ),
        seen AS (SELECT DISTINCT id AS mmsi FROM positions WHERE source = 'ais')
        SELECT coalesce(l.mmsi, s.mmsi) AS mmsi, {", ".join("l." + f for f in _FIELDS)}, l.t_updated_utc
        FROM latest l FULL OUTER JOIN seen s ON l.mmsi = s.mmsi
        ORDER BY 1
        """
    )


def replace_vessels(store: Store, rows: pa.Table) -> int:
    """Replace the whole ``vessels`` table with ``rows`` in one transaction."""
    with store.transaction():
        store.con.execute("DELETE FROM vessels")
        store.insert("vessels", rows, dedupe=False)
    return rows.num_rows


def vessel_rows(store: Store, where: str = "", params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``vessels`` (``where`` is a trusted SQL condition built by the caller with ``?`` params)."""
    q = "SELECT * FROM vessels" + (f" WHERE {where}" if where else "") + " ORDER BY mmsi"
    return store.rows(q, params or [])


def vessel_activity(store: Store, mmsi: str) -> dict[str, Any]:
    """Positions and static reports of one MMSI: counts and first/last times."""
    pos = store.rows(
        "SELECT count(*) AS positions, min(t_utc) AS first_seen_utc, max(t_utc) AS last_seen_utc "
        "FROM positions WHERE source = 'ais' AND id = ?", [mmsi])[0]
    reps = store.scalar("SELECT count(*) FROM vessel_reports WHERE mmsi = ?", [mmsi])
    return {**pos, "static_reports": int(reps or 0)}


# -- live streams -------------------------------------------------------------------------

def open_stream_log(store: Store, source: str) -> int:
    """An ``ingest_log`` row for one live session (its rows carry this file_id)."""
    import uuid
    from datetime import UTC, datetime

    file_id = store.next_file_id()
    now = datetime.now(UTC)
    store.insert("ingest_log", pa.table({
        "file_id": pa.array([file_id], pa.int64()), "path": [source],
        "sha256": [f"stream:{uuid.uuid4().hex}"], "kind": ["ais"], "format": ["nmea-stream"],
        "accepted": pa.array([0], pa.int64()), "rejected": pa.array([0], pa.int64()),
        "duplicates": pa.array([0], pa.int64()),
        "t_start_utc": pa.array([now], pa.timestamp("us", tz="UTC")),
    }), dedupe=False)
    return file_id


def close_stream_log(store: Store, file_id: int, accepted: int, rejected: int) -> None:
    from datetime import UTC, datetime

    store.sql("UPDATE ingest_log SET accepted = ?, rejected = ?, t_end_utc = ? WHERE file_id = ?",
              [accepted, rejected, datetime.now(UTC), file_id])


def write_stream_batch(store: Store, file_id: int, source: str, positions: pa.Table, reports: pa.Table,
                       rejects: list[Any], counters: dict[str, int]) -> None:
    """One live batch in one transaction: positions, static reports, quarantine, counters."""
    from datetime import UTC, datetime

    def with_file(t: pa.Table) -> pa.Table:
        return t.append_column("file_id", pa.repeat(pa.scalar(file_id, pa.int64()), t.num_rows))

    with store.transaction():
        if positions.num_rows:
            store.insert("positions", with_file(positions))
        if reports.num_rows:
            store.insert("vessel_reports", with_file(reports))
        if rejects:
            now = datetime.now(UTC)
            store.insert("quarantine", pa.table({
                "file_id": pa.array([file_id] * len(rejects), pa.int64()),
                "path": [source] * len(rejects),
                "rec_offset": pa.array([r.offset for r in rejects], pa.int64()),
                "offset_unit": [r.offset_unit for r in rejects],
                "raw": [r.raw[:2000] for r in rejects],
                "reason": [r.reason for r in rejects],
                "t_utc": pa.array([now] * len(rejects), pa.timestamp("us", tz="UTC")),
            }), dedupe=False)
        if counters:
            store.insert("ingest_stats", pa.table({
                "file_id": pa.array([file_id] * len(counters), pa.int64()),
                "name": list(counters), "value": pa.array(list(counters.values()), pa.int64()),
            }), dedupe=False)
