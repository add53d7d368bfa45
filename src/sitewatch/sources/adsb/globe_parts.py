"""globe_history days as the user downloaded them: one ``.tar``, or its split parts.

Contract: :func:`split_days` sorts the paths given to ``ingest adsb`` into globe_history days
(:class:`DayFiles`) and the other paths (in their order, unchanged), so that a day downloaded
by hand is read as ``fetch adsb`` reads it (one stream, :func:`~sitewatch.sources.adsb.globe.read_archive`)
rather than as thousands of small files.

* adsb.lol publishes a day as one tar or — over 2 GB, as every December 2024 day — as GNU
  ``split`` parts ``X.tar.aa``, ``X.tar.ab`` …; either is a day when one of its first
  :data:`LOOK_MEMBERS` members (tar headers only, the data is skipped) is a trace in readsb's
  layout (``trace_full_<hex>.json`` / ``trace_recent_<hex>.json``).
* A day's parts are grouped by their stem's name (``X.tar``; wherever each lies), in suffix
  order whatever the order given;
  they must start at ``aa``, run without a gap and be of one size but for a smaller last one
  (as ``split -b`` writes them). Otherwise :class:`~sitewatch.errors.InputError` names the
  missing or short part — before anything is read, so a day never goes in half.
* :func:`sha256` of a day is that of its bytes in order: the same for the whole tar and for
  its parts, so re-ingesting either is skipped.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sitewatch.errors import InputError
from sitewatch.sources.adsb.globe import is_trace_member

LOOK_MEMBERS = 256  # tar headers read to find a trace (a day's tar may open with 48 heatmaps and a README)
_PART = re.compile(r"^(?P<stem>.+\.tar)\.(?P<suffix>[a-z]{2})$")
_READ_BYTES = 8 << 20


@dataclass(frozen=True)
class DayFiles:
    """One globe_history day on disk: its files in order (one tar, or the split parts)."""

    parts: tuple[Path, ...]

    @property
    def name(self) -> str:
        """How the day is named in ``ingest_log`` and quarantine rows (``archive!member``):
        the tar's path, or the first part's path and the other parts' suffixes (``X.tar.aa+ab``)."""
        if len(self.parts) == 1:
            return str(self.parts[0])
        return f"{self.parts[0]}+{'+'.join(p.name.rsplit('.', 1)[1] for p in self.parts[1:])}"  # X.tar.aa+ab+ac

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.parts)


def suffix_index(suffix: str) -> int:
    """``aa`` → 0, ``ab`` → 1 … ``zz`` → 675 (GNU split's default suffixes)."""
    return (ord(suffix[0]) - 97) * 26 + ord(suffix[1]) - 97


def is_day(first: Path) -> bool:
    """Whether the tar (or first part) ``first`` holds readsb traces among its first members."""
    try:
        with open(first, "rb") as f, tarfile.open(fileobj=f, mode="r:") as tar:
            for _ in range(LOOK_MEMBERS):
                m = tar.next()
                if m is None:
                    return False
                if m.isfile() and is_trace_member(m.name):
                    return True
    except (tarfile.TarError, OSError, EOFError):
        return False
    return False


def split_days(paths: Iterable[str | Path]) -> tuple[list[DayFiles], list[str]]:
    """(the globe_history days among ``paths``, the other paths as given); see the module docstring."""
    days: list[DayFiles] = []
    rest: list[str] = []
    parts: dict[Path, dict[int, Path]] = {}
    order: list[tuple[str, Path | str]] = []  # a day's place among the other paths
    for p in _expanded(paths):
        path = Path(p)
        m = _PART.match(path.name) if path.is_file() else None
        if m is not None:  # grouped by the stem's name: parts uploaded one by one land in folders of their own
            stem = Path(m["stem"])
            if stem not in parts:
                parts[stem] = {}
                order.append(("split", stem))
            k = suffix_index(m["suffix"])
            if k in parts[stem] and parts[stem][k].resolve() != path.resolve():
                raise InputError(f"{path.name} is given twice ({parts[stem][k]} and {path}): give one day's parts once",
                                 path=str(path))
            parts[stem][k] = path
        elif path.is_file() and path.suffix == ".tar" and is_day(path):
            days.append(DayFiles((path,)))
        else:
            order.append(("other", str(p)))
    for what, x in order:
        if what == "other":
            rest.append(str(x))
            continue
        assert isinstance(x, Path)
        found = parts[x]
        first = found.get(0)
        if first is not None and not is_day(first):
            rest.extend(str(found[k]) for k in sorted(found))  # not a day's parts: read as ever
            continue  # (without its first part, _checked names it missing)
        days.append(DayFiles(_checked(found[min(found)].with_name(x.name), found)))
    return days, rest


def _expanded(paths: Iterable[str | Path]) -> Iterator[str | Path]:
    """``paths``, a folder that holds a tar or split parts replaced by its files (walked as
    :func:`~sitewatch.sources.base.iter_inputs` walks it: the same files, in the same order)."""
    for p in paths:
        path = Path(p)
        if not path.is_dir():
            yield p
            continue
        files = [c for c in sorted(path.rglob("*")) if c.is_file() and not c.name.startswith(".")]
        if any(c.suffix == ".tar" or _PART.match(c.name) for c in files):
            yield from files
        else:
            yield p


def _checked(stem: Path, found: dict[int, Path]) -> tuple[Path, ...]:
    """The parts in order, or InputError naming the first missing or short one."""
    def name(k: int) -> str:
        return f"{stem.name}.{chr(97 + k // 26)}{chr(97 + k % 26)}"

    last = max(found)
    missing = [name(k) for k in range(last + 1) if k not in found]
    if missing:
        raise InputError(f"the split tar {stem.name} lacks part {', '.join(missing)}: give every part, "
                         f"{name(0)} to {name(last)} (e.g. {stem.name}.*)", path=str(stem))
    ordered = tuple(found[k] for k in range(last + 1))
    sizes = [p.stat().st_size for p in ordered]
    bad = uneven_part(sizes)
    if bad is not None:
        listing = ", ".join(f"{p.name} {s:,} bytes" for p, s in zip(ordered, sizes, strict=True))
        raise InputError(f"the parts of {stem.name} are of one size but for a smaller last one ({listing}); "
                         f"{ordered[bad].name} is cut short or not of this day: download it again",
                         path=str(stem))
    return ordered  # (a last part missing altogether shows as a tar that ends early)


def uneven_part(sizes: Sequence[int]) -> int | None:
    """The first part that breaks ``split -b``'s shape — parts of one size but for a smaller
    last one — or None (``fetch`` checks its downloads with it too)."""
    for k, n in enumerate(sizes[1:-1], start=1):
        if n != sizes[0]:
            return k
    return len(sizes) - 1 if len(sizes) > 1 and sizes[-1] > sizes[0] else None


def sha256(day: DayFiles, progress: Callable[[int], None] | None = None) -> str:
    """SHA-256 of the day's bytes in order (the parts concatenated)."""
    h = hashlib.sha256()
    for p in day.parts:
        with open(p, "rb") as f:
            while block := f.read(_READ_BYTES):
                h.update(block)
                if progress:
                    progress(len(block))
    return h.hexdigest()
