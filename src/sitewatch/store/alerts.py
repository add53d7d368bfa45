"""The ``alerts`` table: which firings are stored already, and the list the CLI and dashboard show."""

from __future__ import annotations

from typing import Any

from sitewatch.store.db import Store
from sitewatch.store.where import Where


def existing_alert_ids(store: Store, ids: list[str]) -> set[str]:
    """Which of ``ids`` are stored already (asked 1,000 at a time: a bounded parameter list)."""
    if not ids:
        return set()
    out: set[str] = set()
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        w = Where().any("alert_id", chunk)
        out |= {r[0] for r in store.sql(f"SELECT alert_id FROM alerts WHERE {w.sql}", w.params)}
    return out


def list_alerts(store: Store, limit: int = 100, rule: str | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` alerts fired (of ``rule``), newest first."""
    w = Where().eq("rule", rule or None)
    return store.rows("SELECT alert_id, rule, t_utc, site, subject, text, delivery, t_fired_utc FROM alerts "
                      f"WHERE {w.sql} ORDER BY t_fired_utc DESC, t_utc DESC LIMIT ?", [*w.params, limit])
