"""One vocabulary of kinds for the CLI and the dashboard: ``<domain>.<what>``.

The canonical name of a kind is the one the evidence timeline uses: ``air.arrival``,
``air.dark-visit``, ``sea.vessel-departure``, ``imagery.count``, ``analyst.observation``.
An analysis stores its events under the short name (``arrival``); ``events`` and
``timeline`` accept either form and print the canonical one. An unknown kind is a
one-line error that lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sitewatch.errors import InputError
from sitewatch.store.db import Store

# evidence kinds that are not events (fusion/evidence.py builds them from scenes, detections,
# observations and positions)
EVIDENCE_ONLY = ("air.coverage", "sea.coverage", "imagery.scene", "imagery.count", "imagery.limit",
                 "analyst.observation")
_ANALYSIS_DOMAIN = {"air": "air", "sea": "sea", "imagery": "imagery", "space": "imagery"}


def canonical(event: Mapping[str, Any]) -> str:
    """The canonical kind of an events-table row (``arrival`` of an aircraft → ``air.arrival``):
    the domain of its sensor, exactly as the evidence timeline names it."""
    from sitewatch.fusion.evidence import DOMAIN, sensor_of_event

    return f"{DOMAIN.get(sensor_of_event(event), 'other')}.{event.get('kind') or ''}"


def registered() -> dict[str, str]:
    """canonical → short name of every kind a registered analysis produces."""
    from sitewatch.analytics.base import discover

    out: dict[str, str] = {}
    for a in discover().values():  # discover() imports once; later calls read the registry
        domain = _ANALYSIS_DOMAIN.get(a.name.split(".", 1)[0], "other")
        for k in a.kinds:
            out[f"{domain}.{k}"] = k
    return out


def event_kinds(store: Store) -> dict[str, str]:
    """canonical → short name of every event kind known: registered analyses and stored events."""
    out = registered()
    for r in store.rows("SELECT DISTINCT kind, subject_kind, analysis FROM events"):
        out[canonical(r)] = str(r["kind"])
    return out


def evidence_kinds(store: Store) -> list[str]:
    """Every evidence kind known (canonical names)."""
    known = set(EVIDENCE_ONLY) | set(event_kinds(store))
    known |= {str(r[0]) for r in store.sql("SELECT DISTINCT kind FROM evidence")}
    return sorted(known)


def split(values: Iterable[str]) -> list[str]:
    """``--kind`` values, repeatable and comma-separated, blanks dropped."""
    return [k.strip() for v in values for k in v.split(",") if k.strip()]


def _unknown(kind: str, valid: Sequence[str]) -> InputError:
    return InputError(f"unknown kind {kind!r}; valid kinds: {', '.join(valid)} "
                      "(the part after the dot alone works too, e.g. arrival)")


def resolve(requested: Sequence[str], valid: Sequence[str]) -> list[str]:
    """Canonical kinds for ``requested`` names, each canonical or short (a short name matches
    every domain that has it: ``coverage`` → air.coverage, sea.coverage)."""
    out: list[str] = []
    for k in requested:
        matches = [k] if k in valid else [v for v in valid if v.split(".", 1)[-1] == k]
        if not matches:
            raise _unknown(k, valid)
        out += [m for m in matches if m not in out]
    return out


def resolve_events(store: Store, requested: Sequence[str]) -> tuple[list[str], set[str]]:
    """(short names to filter the events table by, canonical kinds wanted) for ``requested``."""
    known = event_kinds(store)
    wanted = resolve(requested, sorted(known))
    return sorted({known[k] for k in wanted}), set(wanted)


def resolve_evidence(store: Store, requested: Sequence[str]) -> list[str]:
    """Canonical evidence kinds for ``requested`` (``arrival`` → ``air.arrival``)."""
    return resolve(requested, evidence_kinds(store))


def name_rows(rows: Iterable[dict[str, Any]]) -> None:
    """Give each events-table row its ``canonical_kind``."""
    for r in rows:
        r["canonical_kind"] = canonical(r)
