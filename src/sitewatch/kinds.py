"""One vocabulary of kinds for the CLI and the dashboard: ``<domain>.<what>``.

The canonical name of a kind is the one the evidence timeline uses: ``air.arrival``,
``air.dark-visit``, ``sea.vessel-departure``, ``imagery.count``, ``analyst.observation``.
An analysis stores its events under the short name (``arrival``); ``events`` and
``timeline`` accept either form and print the canonical one. An unknown kind is a
one-line error that lists the valid ones.

What a kind of event *is* — its evidence kind, the map layer it draws as, whether it counts
for a site it happened near — is an :class:`EventKind` declared once, with the analysis that
makes it (``@register_analysis(..., kinds=(EventKind("dark-gap", layer="gap",
near_site=True),))``); :func:`event_kind`, :func:`near_site_kinds` and :func:`layer` read it
for the evidence builder, the dashboard and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sitewatch.errors import InputError
from sitewatch.store import events, evidence
from sitewatch.store.db import Store

# evidence kinds that are not events (fusion/evidence.py builds them from scenes, detections,
# observations and positions)
EVIDENCE_ONLY = ("air.coverage", "sea.coverage", "imagery.scene", "imagery.count", "imagery.limit",
                 "analyst.observation")
_ANALYSIS_DOMAIN = {"air": "air", "sea": "sea", "imagery": "imagery", "space": "imagery"}
LAYERS = ("point", "gap", "link")


@dataclass(frozen=True)
class EventKind:
    """One kind of event, as its analysis declares it.

    ``name``: the short name the events table stores (``dark-gap``); ``domain``: filled in
    from the analysis' name (``air.dark-gaps`` → ``air``); ``layer``: how a map draws it —
    ``point`` (a marker), ``gap`` (a dashed line from where the track was lost to where it
    came back), ``link`` (lost → the site → found: an inferred visit); ``near_site``: an event
    at no watched site still counts for a site within ``[settings.fusion] near_km`` (going
    dark, holding offshore — never an arrival or a port visit elsewhere)."""

    name: str
    layer: str = "point"
    near_site: bool = False
    domain: str = ""

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"layer {self.layer!r} is not one of {', '.join(LAYERS)}")

    @property
    def canonical(self) -> str:
        """The evidence kind: ``air.dark-gap``."""
        return f"{self.domain or 'other'}.{self.name}"


def declare(analysis: str, kinds: Iterable[str | EventKind]) -> tuple[EventKind, ...]:
    """The kinds an analysis declares, with their domain (a bare name is a plain point kind)."""
    domain = _ANALYSIS_DOMAIN.get(analysis.split(".", 1)[0], "other")
    out = []
    for k in kinds:
        ek = k if isinstance(k, EventKind) else EventKind(str(k))
        out.append(EventKind(ek.name, ek.layer, ek.near_site, ek.domain or domain))
    return tuple(out)


def declared() -> dict[str, EventKind]:
    """canonical name → :class:`EventKind` of every kind a registered analysis produces."""
    from sitewatch.analytics.base import discover

    return {k.canonical: k for a in discover().values() for k in a.event_kinds}


def event_kind(kind: str) -> EventKind:
    """The declaration of ``kind`` (canonical or short); an undeclared kind is a plain point."""
    d = declared()
    if kind in d:
        return d[kind]
    for k in d.values():
        if k.name == kind:
            return k
    return EventKind(kind.split(".", 1)[-1])


def near_site_kinds() -> frozenset[str]:
    """Short names of the kinds that count for a site they happened near (see :class:`EventKind`)."""
    return frozenset(k.name for k in declared().values() if k.near_site)


def layer(kind: str) -> str:
    """The map layer of ``kind``: point, gap or link."""
    return event_kind(kind).layer


def canonical(event: Mapping[str, Any]) -> str:
    """The canonical kind of an events-table row (``arrival`` of an aircraft → ``air.arrival``):
    the domain of its sensor, exactly as the evidence timeline names it."""
    from sitewatch.fusion.evidence import DOMAIN, sensor_of_event

    return f"{DOMAIN.get(sensor_of_event(event), 'other')}.{event.get('kind') or ''}"


def registered() -> dict[str, str]:
    """canonical → short name of every kind a registered analysis produces."""
    return {c: k.name for c, k in declared().items()}


def event_kinds(store: Store) -> dict[str, str]:
    """canonical → short name of every event kind known: registered analyses and stored events."""
    out = registered()
    for r in events.stored_kinds(store):
        out[canonical(r)] = str(r["kind"])
    return out


def evidence_kinds(store: Store) -> list[str]:
    """Every evidence kind known (canonical names)."""
    known = set(EVIDENCE_ONLY) | set(event_kinds(store))
    known |= evidence.stored_kinds(store)
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
