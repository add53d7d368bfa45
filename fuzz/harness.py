"""One driver per parser: bytes in, records or quarantine rows or a documented error out.

Contract (checked by :func:`drive`, used by the Hypothesis tests in ``tests/test_trust_*.py``
and by the atheris targets in ``fuzz/fuzz_<name>.py``):

* the only exceptions that may leave a parser are :class:`~sitewatch.errors.SitewatchError`
  subclasses (documented errors naming the file); anything else is a bug and propagates;
* every format sniffer of the kind returns a number in ``[0, 1]`` for any head;
* every quarantine row has an integer offset ``>= 0``, a string ``raw`` and a non-empty reason;
* :class:`Outcome` carries the rows per table, the rejects and the counters so that tests
  can account for every input record.

:data:`SEEDS` holds small valid inputs per target (mutation starting points).
Inputs that must be files on disk (GeoTIFF, STAC, watch.yaml) are written to a private
temporary folder made once per process.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sitewatch.errors import SitewatchError
from sitewatch.sources.base import InputFile, ReadOptions, Reject, readers

START = datetime(2024, 12, 13, 6, 0, tzinfo=UTC)


@dataclass
class Outcome:
    """What one input produced."""

    rows: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    error: SitewatchError | None = None

    @property
    def n_rows(self) -> int:
        return sum(self.rows.values())


def _nmea(body: str) -> str:
    """``AIVDM,…`` → ``!AIVDM,…*hh`` with its checksum."""
    x = 0
    for ch in body.encode():
        x ^= ch
    return f"!{body}*{x:02X}"


def _tag(body: str) -> str:
    x = 0
    for ch in body.encode():
        x ^= ch
    return f"\\{body}*{x:02X}\\"


# Frames from the pyModeS documentation: an even/odd airborne position pair, identification,
# velocity, and a DF4 altitude reply.
FRAMES = ["8D40621D58C382D690C8AC2863A7", "8D40621D58C386435CC412692AD6", "8D4840D6202CC371C32CE0576098",
          "8D485020994409940838175B284F", "8D406B902015A678D4D220AA4BDA", "20001838CA3804"]


def beast_bytes(frames: list[str], times: list[float]) -> bytes:
    """Beast binary of hex ``frames`` at ``times`` (s), 0x1a escaped."""
    out = bytearray()
    t0 = times[0] if times else 0.0
    for fr, t in zip(frames, times, strict=True):
        raw = bytes.fromhex(fr)
        typ = b"2" if len(raw) == 7 else b"3"
        body = int((t - t0) * 12e6).to_bytes(6, "big") + b"\x80" + raw
        out += b"\x1a" + typ + body.replace(b"\x1a", b"\x1a\x1a")
    return bytes(out)


SBS = [
    "MSG,1,1,1,4CA2D6,1,2024/12/13,06:00:00.100,2024/12/13,06:00:00.100,RYR1234,,,,,,,,,,,0",
    "MSG,4,1,1,4CA2D6,1,2024/12/13,06:00:00.200,2024/12/13,06:00:00.200,,,450,270,,,-64,,,,,0",
    "MSG,3,1,1,4CA2D6,1,2024/12/13,06:00:00.300,2024/12/13,06:00:00.300,,37000,,,51.500000,-0.100000,,,0,0,0,0",
    "MSG,6,1,1,4CA2D6,1,2024/12/13,06:00:00.400,2024/12/13,06:00:00.400,,,,,,,,7700,0,0,0,0",
    "MSG,3,1,1,4CA2D6,1,2024/12/13,06:00:01.300,2024/12/13,06:00:01.300,,37000,,,51.501000,-0.102000,,,0,0,0,0",
    "STA,,1,1,4CA2D6,1,2024/12/13,06:00:02.000,2024/12/13,06:00:02.000,RM",
]
T1 = "!AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0*09"
T5 = ("!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
      "!AIVDM,2,2,1,A,88888888880,2*25")
NMEA = [
    _tag("s:rORBCOMM,c:1734069600") + T1,
    T1,
    *T5,
    _tag("s:x,c:1734069610") + _nmea("AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0"),
    "1734069620.5 " + T1,
]
MC_HEADER = ("MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
             "Length,Width,Draft,Cargo,TranscieverClass")
MC = [
    MC_HEADER,
    "366999618,2020-06-30T00:00:00,40.54291,-74.02433,19.0,-61.8,349.0,CG SHRIKE,,NPBG,90,0,26,5,,,B",
    "367000140,2020-06-30T00:01:00,40.64409,-74.07157,10.3,49.6,51,SAMUEL I NEWHOUSE,IMO7702774,WYR3371,60,5,94,21,,69,A",
    "367000140,2020-06-30T00:02:00,40.64509,-74.07257,10.3,49.6,51,SAMUEL I NEWHOUSE,IMO7702774,WYR3371,60,5,94,21,5.5,69,A",
]
DMA = [
    "# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,"
    "Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,ETA,"
    "Data source type,A,B,C,D",
    "01/06/2024 00:00:00,Class A,219000001,55.1,12.1,Under way using engine,0,10.2,90,91,Unknown,OXAB2,"
    "SHIP,Cargo,,20,100,GPS,5.5,COPENHAGEN,01/06/2024 12:00:00,AIS,50,50,10,10",
    "01/06/2024 00:00:10,Class A,219000001,55.101,12.102,Under way using engine,0,10.2,90,91,Unknown,OXAB2,"
    "SHIP,Cargo,,20,100,GPS,5.5,COPENHAGEN,01/06/2024 12:00:00,AIS,50,50,10,10",
    "01/06/2024 00:00:10,Base Station,2190001,55.0,12.0,Unknown value,,,,,Unknown,,,Undefined,,,,GPS,,,,AIS,,,,",
]
OPENSKY = [
    "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,baroaltitude,"
    "geoaltitude,lastposupdate,lastcontact",
    "1734069600,4ca2d6,51.5,-0.1,200.5,90.1,-1.5,RYR1AB  ,False,False,False,7700,10000.0,10100.0,1734069599.5,1734069600",
    "1734069610,4ca2d6,51.51,-0.09,200.5,90.1,0.0,RYR1AB  ,False,False,False,7700,10000.0,10100.0,1734069609.5,1734069610",
    "1734069620,4ca2d6,,,200.5,90.1,0.0,RYR1AB  ,False,False,False,7700,10000.0,,,1734069620",
]
FR24 = [
    "Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction",
    '1734069600,2024-12-13T06:00:00Z,RYR1AB,"51.5,-0.1",37000,450,270',
    '1734069610,2024-12-13T06:00:10Z,RYR1AB,"51.5,-0.13",37000,451,270',
]
TRACE = ('{"icao":"ac671b","r":"N899DN","t":"B739","dbFlags":1,"timestamp":1734069600.5,"trace":['
         '[0,40.1,-74.1,3000,250,90,0,-64,{"flight":"DAL1  ","squawk":"1234","category":"A3"},"adsb_icao",3100,0,null,null],'
         '[5.2,40.11,-74.09,3100,251,90,2,0,null,"adsb_icao",3200,0,null,null],'
         '[9,40.12,-74.08,"ground",20,90,1,null,null,"adsb_icao",null,null,null,null]]}')
AIRCRAFT = ('{"now":1734069600.1,"messages":10,"aircraft":[{"hex":"4ca2d6","flight":"RYR1AB ","alt_baro":37000,'
            '"gs":450,"track":270,"baro_rate":-64,"squawk":"7700","lat":51.5,"lon":-0.1,"seen_pos":1.2,'
            '"type":"adsb_icao","category":"A3","r":"EI-ABC","t":"B738"},{"hex":"~4ca2d7","alt_baro":"ground"}]}')
API_V2 = ('{"ac":[{"hex":"4ca2d6","type":"adsb_icao","flight":"RYR1AB  ","alt_baro":37000,"gs":450.1,'
          '"track":270.2,"baro_rate":-64,"squawk":"7700","lat":51.5,"lon":-0.1,"seen_pos":1.2,"nav_modes":["lnav"],'
          '"category":"A3","r":"EI-ABC","t":"B738"},{"hex":"~4ca2d7","alt_baro":"ground","seen":3.0}],'
          '"msg":"No error","now":1734069600123,"total":2,"ctime":1734069600123,"ptime":2}')
OPENSKY_API = ('{"time":1734069600,"states":[["4ca2d6","RYR1AB  ","Ireland",1734069599,1734069600,-0.1,51.5,'
               '3048.0,false,231.5,270.2,-0.33,null,3100.0,"7700",false,0,4],["4ca2d7",null,"Ireland",null,'
               '1734069590,null,null,null,true,0.0,0.0,null,null,null,null,false,0]]}')
OBS_CSV = [
    "t_utc,site,text,count,class,source,url,confidence",
    "2024-12-13,hmeimim,2 × A124 on apron,2,A124,Maxar,https://example.org/post,0.8",
    "2024-12-14T08:00Z,hmeimim,1 x IL76 on the north-apron,,,,https://example.org/p2,",
]
OBS_YAML = ("observations:\n"
            "  - {t_utc: 2024-12-13, site: hmeimim, text: 2 x A124 on apron, source: Maxar, confidence: 0.7}\n"
            "  - t_utc: 2024-12-14T08:00:00Z\n    site: tartus\n    text: frigate at quay\n    count: 1\n")
POSITIONS = [
    "t_utc,source,id,lat,lon,alt_ft,speed_kt",
    "2024-12-13T06:00:00Z,adsb,4ca2d6,51.5,-0.1,37000,450",
    "2024-12-13T06:00:10,ais,367000140,40.6,-74.0,,10.5",
]
WATCH = ("rules:\n"
         "  - {name: heavies, kind: type-near, types: [A124, IL76], site: hmeimim, radius_km: 50}\n"
         "  - {name: dark, kind: event, event_kind: dark-visit, min_confidence: 0.5}\n"
         "  - {name: quay, kind: evidence, evidence_kind: ships-at-quay, site: tartus, op: '<', value: 2}\n"
         "  - {name: wd, kind: assessment, hypothesis: withdrawal, site: hmeimim, op: '>=', value: 0.8}\n"
         "channels:\n  - {type: log, path: alerts.log}\n  - {type: webhook, url: 'http://127.0.0.1:9000/hook'}\n")


# Inputs that broke parsers once (each fixed; kept as regression seeds for every target).
EXTREME = [b"", b"\n", b"[" * 5_000, b'{"a":' * 5_000, b"- " * 3_000 + b"x",  # deeper than the recursion limit
           b'{"timestamp": 1, "frame": ' + b"[" * 5_000 + b"}\n", b"\xff\xfe\x00r\x00u\x00l\x00e\x00s\x00",
           b"t_utc,source,id,lat,lon\n" + b'"' + b"x" * 200_000 + b'"\n', b"\x00" * 1000,
           MC_HEADER.encode(), b'{"now": [], "aircraft": [{"seen_pos": [], "lat": 1, "lon": 1, "hex": "abcdef", "r": []}]}',
           b'{"icao": "abcdef", "timestamp": "x", "trace": [{"a": 1}, [1e400, 1, 1, 1, 1, 1, 1e400]]}']


EXTREME += [  # found by atheris (fuzz/run.py), fixed
    OPENSKY[0].encode().replace(b"baroalt", b"ba\xf2oalt") + b"\n" + OPENSKY[1].encode() + b"\n",
    SBS[2].replace("MSG,3,", "MSG,24/12/13,").encode() + b"\n" + SBS[2].encode() + b"\n",
    b'{"timestamp": 17340696021769030644, "frame": "8D406B902015A678D4D220AA4BDA"}\n'
    b'{"timestamp": 1' + b"0" * 400 + b', "frame": "8D406B902015A678D4D220AA4BDA"}\n',
]
_BIG = "1" + "0" * 400  # a JSON/YAML integer beyond float range (float() raises OverflowError)
EXTREME += [x.replace("BIG", _BIG).encode() for x in [
    '{"now": BIG, "aircraft": [{"hex": "abcdef", "lat": BIG, "lon": 1, "seen_pos": BIG, "gs": BIG}]}',
    '{"icao": "abcdef", "timestamp": BIG, "trace": [[BIG, 1, 1, BIG, 1, 1, BIG, 1]]}',
    '{"type": "Feature", "id": "a", "properties": {"datetime": "2024-12-13T08:15:00Z", "gsd": BIG, '
    '"eo:cloud_cover": [1]}, "assets": {"visual": {"href": "scene.tif"}}}',
    "- {t_utc: 2024-12-13, site: x, text: y, count: BIG, confidence: BIG}",
    "rules:\n  - {name: a, kind: event, event_kind: x, min_confidence: BIG, value: BIG}",
    "name: routine\ntitle: t\nstatement: s\nprior: BIG\nsingle_source_cap: [1]\nindicators: []\n"]]


REGRESSIONS = Path(__file__).resolve().parent / "regressions"  # atheris reproducers: <target>-crash-<sha1>


def regressions(target: str) -> list[bytes]:
    """The saved atheris reproducers of ``target`` (each crashed once; all are fixed)."""
    return [p.read_bytes() for p in sorted(REGRESSIONS.glob(f"{target}-crash-*"))]


def _lines(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


@cache
def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="sitewatch-fuzz-"))


@cache
def geotiff_seed() -> bytes:
    """A 24×24 three-band GeoTIFF (EPSG:4326, 0.5 m pixels near Hmeimim) with a date tag."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    p = _workdir() / "seed.tif"
    rng = np.random.default_rng(7)
    with rasterio.open(p, "w", driver="GTiff", width=24, height=24, count=3, dtype="uint8", crs="EPSG:32636",
                       transform=from_origin(358_000.0, 3_920_000.0, 0.5, 0.5)) as ds:
        ds.write(rng.integers(0, 255, (3, 24, 24), dtype=np.uint8))
        ds.update_tags(TIFFTAG_DATETIME="2024:12:13 08:15:00")
    return p.read_bytes()


def stac_seed() -> bytes:
    return (b'{"type":"FeatureCollection","features":[{"type":"Feature","stac_version":"1.0.0","id":"s1",'
            b'"properties":{"datetime":"2024-12-13T08:15:00Z","gsd":0.5},'
            b'"geometry":{"type":"Polygon","coordinates":[[[35.9,35.4],[36.0,35.4],[36.0,35.5],[35.9,35.5],[35.9,35.4]]]},'
            b'"assets":{"visual":{"href":"scene.tif","type":"image/tiff"}}},'
            b'{"type":"Feature","id":"s2","properties":{},"assets":{}}]}')


@dataclass(frozen=True)
class Target:
    """One parser under test: how to run it on bytes."""

    name: str
    kind: str  # reader kind, or "config"
    fmt: str
    seeds: Callable[[], list[bytes]]
    opts: ReadOptions = field(default_factory=ReadOptions)
    on_disk: bool = False  # the reader wants a real file path


def _reader_target(name: str, kind: str, fmt: str, seeds: Callable[[], list[bytes]], **kw: Any) -> Target:
    return Target(name, kind, fmt, seeds, **kw)


TARGETS: dict[str, Target] = {t.name: t for t in [
    _reader_target("hex", "adsb", "hex", lambda: [
        _lines(["timestamp,hex", *[f"{1734069600 + i * 0.5},{f}" for i, f in enumerate(FRAMES)]]),
        _lines([f'{{"timestamp": {1734069600 + i}, "frame": "{f}"}}' for i, f in enumerate(FRAMES)]),
        _lines([f"{1734069600 + i},*{f};" for i, f in enumerate(FRAMES)])]),
    _reader_target("beast", "adsb", "beast", lambda: [
        beast_bytes(FRAMES, [float(i) for i in range(len(FRAMES))]),
        b"\x1a1" + b"\x00" * 7 + b"\x12\x34" + beast_bytes(FRAMES[:2], [0.0, 0.2])],
        opts=ReadOptions(start=START)),
    _reader_target("sbs", "adsb", "sbs", lambda: [_lines(SBS)]),
    _reader_target("readsb-trace", "adsb", "readsb-trace", lambda: [TRACE.encode()]),
    _reader_target("readsb-aircraft", "adsb", "readsb-aircraft", lambda: [AIRCRAFT.encode()]),
    _reader_target("opensky", "adsb", "opensky", lambda: [_lines(OPENSKY)]),
    _reader_target("readsb-api", "adsb", "readsb-api", lambda: [API_V2.encode()]),
    _reader_target("opensky-api", "adsb", "opensky-api", lambda: [OPENSKY_API.encode()]),
    _reader_target("fr24", "adsb", "fr24", lambda: [_lines(FR24)],
                   opts=ReadOptions(extra={"icao24": "4ca2d6"})),
    _reader_target("nmea", "ais", "nmea", lambda: [_lines(NMEA)], opts=ReadOptions(start=START)),
    _reader_target("marinecadastre", "ais", "marinecadastre", lambda: [_lines(MC)]),
    _reader_target("dma", "ais", "dma", lambda: [_lines(DMA)]),
    _reader_target("geotiff", "imagery", "geotiff", lambda: [geotiff_seed()],
                   opts=ReadOptions(extra={"site": "hmeimim"}), on_disk=True),
    _reader_target("stac", "imagery", "stac", lambda: [stac_seed()],
                   opts=ReadOptions(extra={"site": "hmeimim"}), on_disk=True),
    _reader_target("observations-csv", "observations", "csv", lambda: [_lines(OBS_CSV)]),
    _reader_target("observations-yaml", "observations", "yaml", lambda: [OBS_YAML.encode()]),
    _reader_target("positions-csv", "positions", "csv", lambda: [_lines(POSITIONS)]),
    Target("watch-rules", "config", "watch", lambda: [WATCH.encode()]),
    Target("assessment-rules", "config", "assessment", lambda: [
        (Path(__file__).resolve().parents[1] / "src/sitewatch/fusion/rules" / f"{n}.yaml").read_bytes()
        for n in ("routine", "withdrawal")]),
]}


def _check_reject(r: Reject) -> None:
    assert isinstance(r.offset, int) and r.offset >= 0, f"bad reject offset {r.offset!r}"
    assert isinstance(r.raw, str), f"reject raw is {type(r.raw).__name__}"
    assert isinstance(r.reason, str) and r.reason.strip(), f"reject without a reason at offset {r.offset}"


def _sniff_all(kind: str, data: bytes, name: str) -> None:
    for rname, reader in readers(kind).items():
        s = reader.sniff(data[:64 * 1024], name)
        assert 0.0 <= float(s) <= 1.0, f"{rname}.sniff returned {s!r}"


def drive(target: str | Target, data: bytes) -> Outcome:
    """Run one parser on ``data`` (see the module docstring); non-documented errors propagate."""
    t = TARGETS[target] if isinstance(target, str) else target
    out = Outcome()
    if t.kind == "config":
        try:
            _drive_config(t, data)
        except SitewatchError as exc:
            out.error = exc
        return out
    name = {"geotiff": "scene.tif", "stac": "items.json", "yaml": "obs.yaml"}.get(t.fmt, f"input.{t.fmt}")
    if t.on_disk:
        path = _workdir() / name
        if t.fmt == "stac":
            (_workdir() / "scene.tif").write_bytes(geotiff_seed())
        path.write_bytes(data)
        src = InputFile(str(path), lambda: open(path, "rb"), len(data))
    else:
        src = InputFile(name, lambda: io.BytesIO(data), len(data))
    _sniff_all(t.kind, data, name)
    reader = readers(t.kind)[t.fmt]
    try:
        for b in reader.read(src, t.opts):
            out.rows[b.table] = out.rows.get(b.table, 0) + b.rows.num_rows
            for r in b.rejects:
                _check_reject(r)
            out.rejects.extend(b.rejects)
            for k, v in b.counters.items():
                out.counters[k] = out.counters.get(k, 0) + int(v)
    except SitewatchError as exc:
        out.error = exc
        assert str(exc).strip(), "an error without a message"
    return out


def _drive_config(t: Target, data: bytes) -> None:
    if t.fmt == "watch":
        from sitewatch.alerts import rules as W

        d = _workdir() / "watch"
        d.mkdir(exist_ok=True)
        (d / W.FILE_NAME).write_bytes(data)
        cfg = W.load(d)
        for r in cfg.rules:
            r.describe()
    else:
        from sitewatch.fusion import rules as R

        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return  # files are read as UTF-8 text before parse; undecodable bytes never reach it
        m = re.search(r"^name:\s*([A-Za-z0-9_-]{1,40})\s*$", text, re.MULTILINE)
        R.parse(text, f"{m.group(1) if m else 'routine'}.yaml")
