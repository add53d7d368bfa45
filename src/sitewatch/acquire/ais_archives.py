"""Published daily AIS archives: the Danish Maritime Authority (``dma``) and MarineCadastre (``marinecadastre``).

Where they are:

* **dma** — ``http://web.ais.dk/aisdata/aisdk-YYYY-MM-DD.zip`` (also served at
  ``aisdata.ais.dk``; older years only as monthly ``aisdk-YYYY-MM.zip``), one CSV per day,
  ~0.5–2.6 GB unzipped, Danish waters; no key. Attribution required: "Contains data from the
  Danish Maritime Authority that is used in accordance with the conditions for the use of
  Danish public data." Columns: ``http://web.ais.dk/aisdata/!_README_information_CSV_files.txt``.
* **marinecadastre** — ``https://coast.noaa.gov/htdata/CMSP/AISDataHandler/YYYY/AIS_YYYY_MM_DD.zip``
  (2015 on; one CSV per day, US coastal AIS sampled each minute); no key; US Government
  public domain (BOEM, NOAA; data from the US Coast Guard).

A day is downloaded with resume and size checks (:func:`sitewatch.acquire.http.download`:
``Range`` from the ``.part`` file after a cut, the size the server announces checked at the
end), then its CSV members are **streamed out of the zip** through the AIS CSV readers
(:mod:`sitewatch.sources.ais.csv_readers`: the same rows and quarantine as ``ingest ais``)
and kept when the vessel passes within ``margin_km`` of a watched site that day — its whole
day, positions and static reports (a first pass over the zip on disk finds these vessels) —
or all of them. Neither publisher gives checksums: the SHA-256 of each file is
computed while it downloads and recorded. Provenance (URL, size, SHA-256, licence,
attribution) goes with the ``ingest_log`` row; a day already ingested with the same options
is skipped. ``mirror`` replaces the publisher's base URL (``http(s)://`` or a ``file://``
folder holding the same file names).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sitewatch.acquire import SourceInfo, register
from sitewatch.acquire.http import Downloaded, FetchError, HttpOptions, download, head_size, safe_url
from sitewatch.errors import InputError
from sitewatch.sources.base import Batch, InputFile, ReadOptions
from sitewatch.store.db import Store
from sitewatch.store.ingest import FileResult, ingest_stream


@dataclass
class MemberBatch(Batch):
    """A batch of one zip member: its quarantined rows name the member (``zip!member.csv``)."""

    reject_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Area:
    """A watched site's box grown by the margin: (lat_min, lat_max, lon_min, lon_max)."""

    name: str
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float


@dataclass
class KeepVessels:
    """Which vessels of a day to keep: those with a position in one of ``areas`` (or all)."""

    areas: tuple[Area, ...] = ()
    margin_km: float = 100.0
    everything: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"sites": [a.name for a in self.areas], "margin_km": self.margin_km, "all": self.everything}

    def mask(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        if self.everything:
            return np.ones(lat.shape, bool)
        m = np.zeros(lat.shape, bool)
        for a in self.areas:
            m |= (lat >= a.lat_min) & (lat <= a.lat_max) & (lon >= a.lon_min) & (lon <= a.lon_max)
        return m


@dataclass
class DayResult:
    day: date
    files: list[Downloaded] = field(default_factory=list)
    ingest: FileResult | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"date": self.day.isoformat(), "files": [f.path.name for f in self.files],
                               "bytes": sum(f.size_bytes for f in self.files)}
        r = self.ingest
        if r is not None:
            out.update(accepted=r.accepted, rejected=r.rejected, duplicates=r.duplicates, skipped=r.skipped)
            for k in ("not_near_sites", "vessels_kept", "static_reports_kept"):
                if k in r.counters:
                    out[k] = r.counters[k]
        return out


class DailyAisArchive:
    """One publisher of daily AIS CSV zips (subclasses give the names and terms)."""

    info: SourceInfo
    base: str
    reader_format: str

    def __init__(self, mirror: str | None = None, http: HttpOptions | None = None) -> None:
        self.mirror = mirror.rstrip("/") if mirror else None
        self.http = http or HttpOptions()

    def configured(self, mirror: str | None, http: HttpOptions | None = None) -> DailyAisArchive:
        return type(self)(mirror, http or self.http)

    def file_name(self, day: date) -> str:  # pragma: no cover - subclasses
        raise NotImplementedError

    def url(self, day: date) -> str:
        return f"{self.mirror or self.base}/{self.path(day)}"

    def path(self, day: date) -> str:
        return self.file_name(day)

    def fetch(self, day: date, folder: Path, progress: Callable[[int, int | None], None] | None = None) -> Downloaded:
        """The day's zip under ``folder`` (resumed, its size checked against the server's)."""
        url = self.url(day)
        size = head_size(url, self.http)
        if size is None:
            raise InputError(f"{self.info.title} has no file for {day.isoformat()} ({safe_url(url)}: not found)"
                             f"{self.missing_hint(day)}")
        expected = size if size >= 0 else None

        def tell(n: int) -> None:
            if progress:
                progress(n, expected)

        return download(url, folder / self.file_name(day), expected, None, self.http, progress=tell)

    def missing_hint(self, day: date) -> str:
        return ""

    def ingest(self, store: Store, day: date, f: Downloaded, keep: KeepVessels,
               progress: Callable[[int], None] | None = None) -> FileResult:
        """Stream the zip's CSV members through the reader into ``store`` (one transaction)."""
        digest = hashlib.sha256(f"{self.info.name}\n{f.path.name} {f.sha256}\n".encode()).hexdigest()
        provenance = {**self.info.as_json(), "date": day.isoformat(),
                      "files": [{"url": safe_url(f.url), "name": f.path.name, "size_bytes": f.size_bytes,
                                 "sha256": f.sha256}], "keep": keep.as_json()}
        opts = ReadOptions(extra={"provenance": provenance})
        name = f"{self.info.name}:{f.path.name}"
        try:
            zf = zipfile.ZipFile(f.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise FetchError(f"{f.path.name}: not a readable zip ({exc}); delete it and fetch again") from None
        with zf:
            members = [m for m in zf.infolist() if m.filename.lower().endswith(".csv") and not m.is_dir()]
            if not members:
                raise FetchError(f"{f.path.name}: no CSV inside (members: "
                                 f"{', '.join(m.filename for m in zf.infolist()[:5])})")
            return ingest_stream(store, "ais", name, digest, self.reader_format,
                                 self._batches(zf, members, f.path.name, keep), opts,
                                 size_bytes=sum(m.file_size for m in members), progress=progress)

    def _batches(self, zf: zipfile.ZipFile, members: Sequence[zipfile.ZipInfo], zip_name: str,
                 keep: KeepVessels) -> Iterator[Batch]:
        """Two passes over the members when filtering: the vessels that come near a site, then
        their whole day (positions and static reports); one pass when keeping everything."""
        kept: set[str] | None = None
        if not keep.everything:
            kept = set()
            for _src, b in self._read(zf, members, zip_name):
                if b.table == "positions" and b.rows.num_rows:
                    lat = np.asarray(b.rows.column("lat").to_numpy(zero_copy_only=False), float)
                    lon = np.asarray(b.rows.column("lon").to_numpy(zero_copy_only=False), float)
                    near = pa.array(keep.mask(lat, lon))
                    kept.update(pc.unique(b.rows.column("id").filter(near)).to_pylist())
        value_set = pa.array(sorted(kept or ()), pa.string())
        n_kept = 0
        for src, b in self._read(zf, members, zip_name):
            counters = dict(b.counters)
            rows = b.rows
            if kept is not None and rows.num_rows:
                col = "id" if b.table == "positions" else "mmsi"
                rows = rows.filter(pc.is_in(rows.column(col), value_set=value_set))
                if b.table == "positions":
                    counters["not_near_sites"] = counters.get("not_near_sites", 0) + b.rows.num_rows - rows.num_rows
                else:
                    n_kept += rows.num_rows
            yield MemberBatch(b.table, rows, b.rejects, counters, [src] * len(b.rejects))
        if kept is not None:
            yield Batch("positions", pa.table({}), [], {"vessels_kept": len(kept), "static_reports_kept": n_kept})

    def _read(self, zf: zipfile.ZipFile, members: Sequence[zipfile.ZipInfo], zip_name: str) -> Iterator[
            tuple[str, Batch]]:
        from sitewatch.sources.base import readers

        rd = readers("ais")[self.reader_format]
        for m in members:
            def opener(m: zipfile.ZipInfo = m) -> IO[bytes]:
                return zf.open(m)

            src = InputFile(f"{zip_name}!{m.filename}", opener, m.file_size)
            try:
                for b in rd.read(src, ReadOptions()):
                    yield src.name, b
            except (zipfile.BadZipFile, EOFError, OSError) as exc:  # CRC error, a member cut short
                raise FetchError(f"{src.name}: the zip member is damaged ({exc}); delete the file and fetch again") \
                    from None


@register
class Dma(DailyAisArchive):
    """``sitewatch fetch ais --archive dma``."""

    info = SourceInfo(
        kind="ais", name="dma", title="Danish Maritime Authority historical AIS (aisdk daily CSV)",
        licence="DMA-conditions-for-Danish-public-data", licence_url="http://web.ais.dk/aisdata/",
        attribution="Contains data from the Danish Maritime Authority that is used in accordance with the "
                    "conditions for the use of Danish public data",
        homepage="http://web.ais.dk/aisdata/")
    base = "http://web.ais.dk/aisdata"
    reader_format = "dma"

    def file_name(self, day: date) -> str:
        return f"aisdk-{day.isoformat()}.zip"

    def missing_hint(self, day: date) -> str:
        return ("; older years are published only as monthly archives "
                f"(aisdk-{day:%Y-%m}.zip): download it and run `sitewatch ingest ais` on its CSV")


@register
class MarineCadastre(DailyAisArchive):
    """``sitewatch fetch ais --archive marinecadastre``."""

    info = SourceInfo(
        kind="ais", name="marinecadastre", title="MarineCadastre.gov AIS (BOEM/NOAA daily CSV)",
        licence="public-domain-US-Government", licence_url="https://hub.marinecadastre.gov/pages/vesseltraffic",
        attribution="AIS data from MarineCadastre.gov (Bureau of Ocean Energy Management and NOAA), collected "
                    "by the US Coast Guard; public domain",
        homepage="https://hub.marinecadastre.gov/pages/vesseltraffic")
    base = "https://coast.noaa.gov/htdata/CMSP/AISDataHandler"
    reader_format = "marinecadastre"

    def file_name(self, day: date) -> str:
        return f"AIS_{day:%Y_%m_%d}.zip"

    def path(self, day: date) -> str:
        return f"{day:%Y}/{self.file_name(day)}"

    def missing_hint(self, day: date) -> str:
        return "; daily CSV files start in 2015 (earlier years are zipped FileGDBs per UTM zone)" \
            if day.year < 2015 else ""


def areas_for(sites: Sequence[Any], margin_km: float) -> tuple[Area, ...]:
    """Each site's box grown by ``margin_km``."""
    import math

    out = []
    for s in sites:
        x0, y0, x1, y1 = s.area.bounds
        dlat = margin_km / 111.2
        dlon = dlat / max(0.01, math.cos(math.radians(s.lat)))
        out.append(Area(s.name, max(-90.0, y0 - dlat), min(90.0, y1 + dlat), max(-180.0, x0 - dlon),
                        min(180.0, x1 + dlon)))
    return tuple(out)
