"""The ``observations`` table: analyst observations, read per site with their files' provenance."""

from __future__ import annotations

from typing import Any

from sitewatch.store.db import Store


def site_observations(store: Store, site: str) -> list[dict[str, Any]]:
    """Analyst observations of ``site`` with the path and hash of the file they came from."""
    return store.rows(
        "SELECT o.*, l.path AS file_path, l.sha256 AS file_sha256 FROM observations o "
        "LEFT JOIN ingest_log l USING (file_id) WHERE o.site = ? ORDER BY o.t_utc, o.obs_id",
        [site],
    )


def observed_sites(store: Store) -> set[str]:
    """Sites named by the stored analyst observations."""
    return {str(r[0]) for r in store.sql("SELECT DISTINCT site FROM observations WHERE site IS NOT NULL")}


def observation_sources(store: Store, site: str) -> list[dict[str, Any]]:
    """Who reported the analyst observations of ``site`` (source, URL, how many)."""
    return store.rows(
        "SELECT source, url, count(*) AS n, bool_or(coalesce(simulated, false)) AS simulated FROM observations "
        "WHERE site = ? GROUP BY ALL ORDER BY source, url", [site])
