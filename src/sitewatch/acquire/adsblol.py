"""adsb.lol ``globe_history``: every aircraft adsb.lol saw in a day, published daily under ODbL.

Where it is (from the repositories ``adsblol/globe_history_{YYYY}``):

* one GitHub release per day and pod, tag ``v{YYYY}.{MM}.{DD}-planes-readsb-{prod|staging|mlatonly}-0``,
  asset ``{tag}.tar``; a tar over 2,000,000,000 bytes is split with ``split -b 2000000000`` into
  ``{tag}.tar.aa``, ``{tag}.tar.ab`` … (a December 2024 day is ≈ 1.9–2.3 GiB: two parts);
* ``PREFERRED_RELEASES.txt`` in the repository (``raw.githubusercontent.com/adsblol/
  globe_history_{YYYY}/refs/heads/main/``) lists, one line per day, the part URLs of the
  release the maintainers prefer (prod, or staging when prod was down); a day near New Year
  can sit in the next year's repository (``globe_history_2024`` holds ``v2023.12.30``);
* the GitHub API (``/repos/adsblol/globe_history_{YYYY}/releases/tags/{tag}``) gives each
  asset's size and, for assets uploaded since June 2025, its ``digest`` (``sha256:…``).
  ``GITHUB_TOKEN`` (optional, from the environment) raises the API's rate limit;
* inside the tar: ``traces/{hex % 256:02x}/trace_full_{hex}.json`` (gzip JSON despite the name),
  ``heatmap/*.bin.ttf``, ``README.txt`` and the licence files.

``--mirror URL`` replaces ``https://github.com/adsblol``: parts at
``{URL}/globe_history_{YYYY}/releases/download/{tag}/{asset}``, the listing at
``{URL}/globe_history_{YYYY}/PREFERRED_RELEASES.txt`` (else the parts are probed: ``.tar``,
then ``.tar.aa``, ``.tar.ab`` …, prod before staging), checksums from an optional
``SHA256SUMS`` beside the parts. ``file://`` mirrors are read in place.

Licence: ODbL 1.0 (the database; feeders' data CC0); attribute "adsb.lol".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire.http import (
    Downloaded,
    FetchError,
    HttpOptions,
    download,
    get_optional,
    head_size,
    safe_url,
)
from sitewatch.errors import InputError
from sitewatch.sources.adsb import globe_parts
from sitewatch.sources.adsb._common import only_watched
from sitewatch.sources.adsb.globe import ConcatReader, KeepRule, read_archive
from sitewatch.sources.adsb.globe_parts import DayFiles
from sitewatch.sources.base import ReadOptions
from sitewatch.store.db import Store
from sitewatch.store.ingest import FileResult, ingest_stream

log = logging.getLogger(__name__)

GITHUB = "https://github.com/adsblol"
RAW = "https://raw.githubusercontent.com/adsblol"
API = "https://api.github.com/repos/adsblol"
PODS = ("prod", "staging")
_TAG = re.compile(r"v(\d{4})\.(\d{2})\.(\d{2})-planes-readsb-([a-z]+)-\d+")

INFO = SourceInfo(
    kind="adsb", name="adsblol", title="adsb.lol globe_history (daily readsb traces)",
    licence="ODbL-1.0", licence_url="https://opendatacommons.org/licenses/odbl/1-0/",
    attribution="Contains ADS-B data from adsb.lol (https://adsb.lol), made available under the "
                "Open Database License (ODbL) 1.0; feeders' data CC0",
    homepage="https://github.com/adsblol/globe_history_2025", key_env=("GITHUB_TOKEN",))


@dataclass(frozen=True)
class Asset:
    """One file of a release: URL, and what the publisher says of it."""

    name: str
    url: str
    size_bytes: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Release:
    """The release chosen for a day: tag, repository year, its parts in order."""

    day: date
    tag: str
    repo_year: int
    assets: tuple[Asset, ...]


@dataclass
class DayResult:
    """What fetching one day did (the CLI prints it)."""

    day: date
    release: str
    files: list[Downloaded] = field(default_factory=list)
    ingest: FileResult | None = None

    def as_json(self) -> dict[str, Any]:
        r = self.ingest
        out: dict[str, Any] = {"date": self.day.isoformat(), "release": self.release,
                               "files": len(self.files), "bytes": sum(f.size_bytes for f in self.files)}
        if r is not None:
            out.update(accepted=r.accepted, rejected=r.rejected, duplicates=r.duplicates, skipped=r.skipped)
            for k in ("aircraft_kept", "members_traces", "members_failed", "members_skipped", "not_kept_aircraft"):
                if k in r.counters:
                    out[k] = r.counters[k]
        return out


def tag_for(day: date, pod: str = "prod") -> str:
    return f"v{day:%Y.%m.%d}-planes-readsb-{pod}-0"


def day_of_tag(tag: str) -> date | None:
    m = _TAG.search(tag)
    return date(int(m[1]), int(m[2]), int(m[3])) if m else None


def parse_listing(text: str) -> dict[date, list[str]]:
    """``PREFERRED_RELEASES.txt`` → {day: part URLs in order} (first line wins for a day)."""
    out: dict[date, list[str]] = {}
    for line in text.splitlines():
        urls = [u.strip() for u in line.split(",") if u.strip()]
        if not urls:
            continue
        day = day_of_tag(urls[0].rsplit("/", 2)[-2] if urls[0].count("/") >= 2 else urls[0])
        if day is not None and day not in out:
            out[day] = urls
    return out


def parse_release_json(data: bytes) -> dict[str, tuple[int | None, str | None]]:
    """GitHub's release JSON → {asset name: (size, sha256 hex or None)}."""
    doc = json.loads(data)
    out: dict[str, tuple[int | None, str | None]] = {}
    for a in doc.get("assets") or []:
        digest = a.get("digest") or ""
        sha = digest.split(":", 1)[1].lower() if digest.startswith("sha256:") else None
        size = a.get("size")
        out[str(a.get("name"))] = (int(size) if isinstance(size, int) else None, sha)
    return out


def parse_sha256sums(text: str) -> dict[str, str]:
    """``sha256sum`` output (``<hex>  <name>`` or ``<hex> *<name>``) → {name: hex}."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            out[parts[1].lstrip("*").strip()] = parts[0].lower()
    return out


@register
class AdsbLol:
    """The ``adsblol`` archive source (``sitewatch fetch adsb --archive adsblol``)."""

    info = INFO

    def __init__(self, mirror: str | None = None, http: HttpOptions | None = None) -> None:
        self.mirror = mirror.rstrip("/") if mirror else None
        self.http = http or HttpOptions()
        self._listings: dict[int, dict[date, list[str]] | None] = {}

    def configured(self, mirror: str | None, http: HttpOptions | None = None) -> AdsbLol:
        return AdsbLol(mirror, http or self.http)

    # -- where a day is ---------------------------------------------------------------------
    def _api_headers(self) -> dict[str, str]:
        h = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        token = os.environ.get("GITHUB_TOKEN")
        if token:
            h["Authorization"] = f"Bearer {token}"
        return h

    def _listing(self, year: int) -> dict[date, list[str]] | None:
        if year not in self._listings:
            url = (f"{self.mirror}/globe_history_{year}/PREFERRED_RELEASES.txt" if self.mirror
                   else f"{RAW}/globe_history_{year}/refs/heads/main/PREFERRED_RELEASES.txt")
            data = get_optional(url, self.http)
            self._listings[year] = parse_listing(data.decode("utf-8", "replace")) if data is not None else None
        return self._listings[year]

    def _url(self, url: str) -> str:
        return self.mirror + url[len(GITHUB):] if self.mirror and url.startswith(GITHUB) else url

    def release(self, day: date) -> Release:
        """The release of ``day``: from the listing (this year's repository, then the next one's),
        else probed (mirrors without a listing)."""
        for year in (day.year, day.year + 1):
            listing = self._listing(year)
            if listing and day in listing:
                urls = [self._url(u) for u in listing[day]]
                tag = urls[0].rsplit("/", 2)[-2]
                return self._checked(Release(day, tag, year, tuple(Asset(u.rsplit("/", 1)[-1], u) for u in urls)))
        if self.mirror:
            found = self._probe(day)
            if found is not None:
                return self._checked(found)
        raise InputError(f"adsb.lol has no globe_history release for {day.isoformat()} "
                         f"(looked in globe_history_{day.year} and _{day.year + 1}"
                         f"{' at ' + safe_url(self.mirror) if self.mirror else ''}); releases start in 2023 "
                         "and appear a day or two after the day ends")

    def _probe(self, day: date) -> Release | None:
        for year in (day.year, day.year + 1):
            for pod in PODS:
                tag = tag_for(day, pod)
                base = f"{self.mirror}/globe_history_{year}/releases/download/{tag}/{tag}.tar"
                size = head_size(base, self.http)
                if size is not None:
                    return Release(day, tag, year, (Asset(f"{tag}.tar", base),))
                parts = []
                for suffix in _split_suffixes():
                    url = f"{base}.{suffix}"
                    if head_size(url, self.http) is None:
                        break
                    parts.append(Asset(f"{tag}.tar.{suffix}", url))
                if parts:
                    return Release(day, tag, year, tuple(parts))
        return None

    def _checked(self, rel: Release) -> Release:
        """The release with the sizes and checksums its publisher gives (when it gives them)."""
        known: dict[str, tuple[int | None, str | None]] = {}
        if self.mirror:
            base = rel.assets[0].url.rsplit("/", 1)[0]
            sums = get_optional(f"{base}/SHA256SUMS", self.http)
            if sums is not None:
                known = {k: (None, v) for k, v in parse_sha256sums(sums.decode("utf-8", "replace")).items()}
        else:
            try:
                data = get_optional(f"{API}/globe_history_{rel.repo_year}/releases/tags/{rel.tag}", self.http,
                                    self._api_headers())
                known = parse_release_json(data) if data is not None else {}
            except (FetchError, ValueError) as exc:  # rate-limited, …: the download still checks its length
                log.warning("GitHub API: %s; sizes from the download only", exc)
        assets = tuple(Asset(a.name, a.url, *known.get(a.name, (None, None))) for a in rel.assets)
        return Release(rel.day, rel.tag, rel.repo_year, assets)

    # -- fetching ---------------------------------------------------------------------------
    def download(self, rel: Release, folder: Path,
                 progress: Callable[[str, int, int | None], None] | None = None) -> list[Downloaded]:
        """Every part of ``rel`` under ``folder/tag/`` (resumable, checked)."""
        out = []
        for a in rel.assets:
            def tell(n: int, a: Asset = a) -> None:
                if progress:
                    progress(a.name, n, a.size_bytes)
            out.append(download(a.url, folder / rel.tag / a.name, a.size_bytes, a.sha256, self.http,
                                progress=tell))
        if globe_parts.uneven_part([f.size_bytes for f in out]) is not None:
            sizes = ", ".join(f"{f.path.name} {f.size_bytes:,}" for f in out)
            raise FetchError(f"{rel.tag}: the parts of a split tar are equal but for a shorter last one "
                             f"({sizes}); a part is truncated: delete it and fetch again")
        return out

    def ingest(self, store: Store, rel: Release, files: list[Downloaded], rule: KeepRule, workers: int = 2,
               progress: Callable[[int], None] | None = None) -> FileResult:
        """Stream the parts (one tar) through the readsb trace reader into ``store``."""
        manifest = "\n".join(f"{f.path.name} {f.sha256}" for f in files)
        digest = hashlib.sha256(f"adsblol-globe-history\n{manifest}\n".encode()).hexdigest()
        provenance = {**self.info.as_json(), "release": rel.tag, "date": rel.day.isoformat(),
                      "files": [{"url": safe_url(f.url), "name": f.path.name, "size_bytes": f.size_bytes,
                                 "sha256": f.sha256} for f in files],
                      "keep": rule.as_json()}
        opts = ReadOptions(extra={"provenance": provenance})
        name = f"adsblol:{rel.tag}"
        with ConcatReader([f.path for f in files]) as stream:
            return ingest_stream(store, "adsb", name, digest, "readsb-trace",
                                 read_archive(stream, name, rule, workers), opts,
                                 size_bytes=sum(f.size_bytes for f in files), progress=progress)


def ingest_day_files(store: Store, day: DayFiles, opts: ReadOptions | None = None, workers: int = 2,
                     progress: Callable[[int], None] | None = None) -> FileResult:
    """A globe_history day downloaded by hand (one tar, or its split parts: :mod:`~sitewatch.sources.adsb.globe_parts`)
    streamed through the readsb trace reader into ``store`` as ``fetch`` streams it: one logical input (one
    ``ingest_log`` row, its content's SHA-256), every aircraft kept but those ``opts.extra["only_ids"]``
    leaves out (``ingest adsb --watch-types``), heatmaps, README and licences counted as
    ``members_skipped``. A day named as an adsb.lol release (``v2024.12.10-planes-readsb-prod-0.tar…``)
    carries adsb.lol's provenance (licence, attribution), marked as identified by its file name."""
    opts = opts or ReadOptions()
    digest = globe_parts.sha256(day)
    extra = {k: v for k, v in opts.extra.items() if k != "only_ids"}
    rule = KeepRule(keep_all=True)
    m = _TAG.search(day.parts[0].name)
    if m is not None:
        extra["provenance"] = {**INFO.as_json(), "release": m[0], "date": f"{m[1]}-{m[2]}-{m[3]}",
                               "identified_by": "file name (an adsb.lol release tag); downloaded by hand",
                               "files": [{"name": p.name, "size_bytes": p.stat().st_size} for p in day.parts],
                               "sha256": digest, "keep": rule.as_json()}
    read_opts = dataclasses.replace(opts, extra=extra)
    name, size = day.name, day.size_bytes
    stream = ConcatReader(list(day.parts))
    try:
        with stream:
            batches = only_watched(read_archive(stream, name, rule, workers), opts.extra.get("only_ids"))
            return ingest_stream(store, "adsb", name, digest, "readsb-trace", batches, read_opts,
                                 size_bytes=size, progress=progress)
    except InputError as exc:
        if len(day.parts) > 1 and stream.bytes_read >= size:  # every part read, and the tar still unfinished
            raise InputError(f"{exc.args[0]}; or a part is missing: is {day.parts[-1].name} the day's last part?",
                             path=name) from None
        raise


def _split_suffixes() -> Iterator[str]:
    """``aa``, ``ab`` … ``zz`` (GNU split's default two-letter suffixes)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    for a in letters:
        for b in letters:
            yield a + b


def days(first: date, last: date | None) -> list[date]:
    """Every day from ``first`` to ``last`` (inclusive)."""
    last = last or first
    if last < first:
        raise InputError(f"--to {last.isoformat()} is before --date {first.isoformat()}")
    if (last - first).days > 366:
        raise InputError("at most 367 days per command (each day is about 2 GB)")
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]
