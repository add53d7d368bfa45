"""User values parsed one way for the CLI, the library and the server: times (UTC),
time windows, receiver reference positions.

>>> parse_time("2024-12-13T06:00Z").isoformat()
'2024-12-13T06:00:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime

from sitewatch.errors import InputError


def iso(text: str, name: str = "time") -> datetime:
    """ISO 8601 date or datetime → aware UTC datetime (naive input is taken as UTC)."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name} {text!r} is not ISO 8601 (e.g. 2024-12-13 or 2024-12-13T06:00Z)") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_time(value: datetime | str | None, name: str = "time") -> datetime | None:
    """A datetime (naive = UTC) or ISO 8601 text → aware UTC datetime; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return iso(str(value), name)


def fmt_time(t: datetime) -> str:
    """A time as people read it in a table: ISO 8601 UTC to the second (``2024-12-13T06:12:05Z``)."""
    t = (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_window(t_from: datetime | None, t_to: datetime | None, names: tuple[str, str] = ("--from", "--to")) -> None:
    """Refuse a time window that is empty because its ends are swapped or equal."""
    if t_from is not None and t_to is not None and t_to <= t_from:
        raise InputError(f"{names[1]} {fmt_time(t_to)} is not after {names[0]} {fmt_time(t_from)}: "
                         f"swap them (the window is {names[0]} ≤ t < {names[1]})")


def window(t_from: datetime | str | None, t_to: datetime | str | None) -> tuple[datetime | None, datetime | None]:
    """(from, to) parsed and checked."""
    t0, t1 = parse_time(t_from, "--from"), parse_time(t_to, "--to")
    check_window(t0, t1)
    return t0, t1


def parse_ref(ref: str | tuple[float, float] | list[float] | None,
              airport: str | None = None) -> tuple[float, float] | None:
    """``LAT,LON`` (or a pair) or an airport code → (lat, lon) for surface/local CPR decoding."""
    if ref is not None and airport:
        raise InputError("give --ref or --airport, not both")
    if airport:
        from sitewatch.reference.airports import lookup

        a = lookup(airport)
        return (a.lat, a.lon)
    if ref is None or ref == "":
        return None
    try:
        if isinstance(ref, str):
            lat_s, lon_s = ref.split(",")
            lat, lon = float(lat_s), float(lon_s)
        else:
            lat, lon = float(ref[0]), float(ref[1])
    except (ValueError, IndexError, TypeError):
        raise InputError(f"--ref {ref!r} is not LAT,LON (e.g. --ref 49.01,2.55)") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"--ref {ref!r} is out of range")
    return (lat, lon)
