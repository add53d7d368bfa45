"""Named parameters of the air analytics, each with its reason or published source.

One frozen :class:`AirParams` is built from ``sitewatch.toml`` ``[settings.air]`` by
:func:`from_context`; every algorithm reads its thresholds from it, so the Spark port
reads the same names. Units are in the names.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from sitewatch.errors import ConfigError


@dataclass(frozen=True)
class AirParams:
    # -- flights / legs ---------------------------------------------------------------
    leg_gap_s: float = 600.0
    """Split a track into legs at a time gap longer than this (issue 4 default: 10 min;
    OpenSky's flights table uses the same order of magnitude)."""
    leg_landing_gap_s: float = 300.0
    """readsb leg heuristic (readsb ``mark_legs``): a shorter gap still splits when the
    aircraft was low and descending before it and low and climbing after it."""
    leg_low_agl_ft: float = 3000.0
    """'Low' for the readsb heuristic and for site-event candidates, feet above the field."""
    min_ground_s: float = 30.0
    """A ground stay must last this long (landing roll to taxi speed takes about 30-60 s)."""
    flag_debounce_s: float = 20.0
    """On-ground flag runs shorter than this are flicker (seen in OpenSky data: 1-3 s runs)."""
    use_onground_flags: bool = True
    """Trust the feed's on-ground flag where present (else the state comes from the profile)."""
    # -- ground / air state from the profile -------------------------------------------
    taxi_max_kt: float = 50.0
    """Below this ground speed (derived from positions) a fixed-wing aircraft is on the ground;
    rotation speeds of transport aircraft are 100-160 kt, taxi speeds under 30 kt."""
    flying_min_kt: float = 80.0
    """Above this an aircraft that is also above the field is flying."""
    speed_window_s: float = 10.0
    """Half-window for speeds derived from positions (smooths 1 s position noise)."""
    stale_min_kt: float = 50.0
    """An exactly repeated position while reporting at least this speed is stale (forward-filled)."""
    # -- site events ----------------------------------------------------------------------
    airfield_radius_m: float = 6000.0
    """A landing belongs to the nearest airfield within this distance of its reference point
    (runway thresholds of large airports lie 2-4 km from the reference point)."""
    candidates_radius_m: float = 10000.0
    """Other airfields within this distance are counted as candidates (OpenSky reports the count)."""
    approach_radius_m: float = 12000.0
    """Approaches and low track ends are looked for this close to an airfield."""
    air_above_field_ft: float = 300.0
    """A point this far above the field reference altitude is airborne."""
    approach_max_agl_ft: float = 1500.0
    """An approach descends below this height above the field."""
    touch_max_agl_ft: float = 150.0
    """A touch-and-go passes this close to the field altitude without a ground stay."""
    profile_window_s: float = 300.0
    """Descent/climb profile and alignment are judged over this window before/after the transition."""
    aligned_max_deg: float = 10.0
    """Final approach / initial climb counts as aligned with a runway within this angle."""
    overflight_radius_m: float = 5000.0
    """Watched sites: a pass within this distance without landing is an overflight."""
    # -- dark gaps --------------------------------------------------------------------------
    gap_low_s: float = 300.0
    """Dark gap threshold below ``gap_split_alt_ft`` (issue 4: 5 min)."""
    gap_high_s: float = 900.0
    """Dark gap threshold above ``gap_split_alt_ft`` (issue 4: 15 min)."""
    gap_split_alt_ft: float = 10000.0
    coverage_cell_deg: float = 0.25
    """Coverage map cell (about 28 km): of the order of a receiver's low-altitude horizon."""
    coverage_bin_s: float = 120.0
    """Coverage map time bin."""
    # -- dark visits ------------------------------------------------------------------------
    visit_min_ground_s: float = 120.0
    """A visit needs at least this much time on the ground (a full-stop landing and take-off)."""
    visit_max_candidates: int = 5
    default_cruise_kt: float = 450.0
    """Speed for aircraft of unknown type (jet transport cruise)."""
    default_approach_kt: float = 140.0
    terminal_s: float = 240.0
    """Time lost in approach and departure manoeuvres per landing (each way)."""

    def with_overrides(self, values: dict[str, Any]) -> AirParams:
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for k, v in values.items():
            if k not in known:
                raise ConfigError(f"[settings.air] {k!r} is not a known parameter; known: {', '.join(known)}")
            try:
                clean[k] = type(getattr(self, k))(v)
            except (TypeError, ValueError):
                raise ConfigError(f"[settings.air] {k} = {v!r} must be a number") from None
        return replace(self, **clean)


def from_settings(settings: Any) -> AirParams:
    """Parameters from a settings mapping (``[settings.air]``), defaults elsewhere."""
    air = settings.get("air", {}) if hasattr(settings, "get") else {}
    if not isinstance(air, dict):
        raise ConfigError("[settings.air] must be a table of parameters")
    return AirParams().with_overrides(air)
