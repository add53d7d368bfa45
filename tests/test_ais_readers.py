"""AIS file readers: tracktable .traj, MarineCadastre CSV, DMA CSV (small cases + real files)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from conftest import tracktable
from sitewatch.errors import FormatError
from sitewatch.sources.base import Batch, ReadOptions, detect, iter_inputs
from sitewatch.store.ingest import ingest_paths
from sitewatch.workspace import Workspace


def _read(path: Path, fmt: str = "auto") -> tuple[str, list[Batch]]:
    src = next(iter_inputs([path]))
    reader = detect("ais", src, fmt)
    return reader.name, list(reader.read(src, ReadOptions()))


def _rows(batches: list[Batch], table: str = "positions") -> pa.Table:
    return pa.concat_tables([b.rows for b in batches if b.table == table])


def _rejects(batches: list[Batch]) -> list[tuple[int, str]]:
    return [(r.offset, r.reason) for b in batches for r in b.rejects]


# -- traj ---------------------------------------------------------------------------------

TRAJ = (
    "*T*,b6dfc4cd-dfd0-40b0-9e05-ab4ad5e6d373,terrestrial,2,0,*P*,terrestrial,2,1,1,0,"
    "367073680,2020-12-01 11:31:39,-74.03917,40.71079,367073680,2020-12-01 11:34:20,-74.0335,40.71\n"
    "*T*,terrestrial,2,0,*P*,terrestrial,2,1,1,1,speed,1,"
    "273123456,2020-12-01 12:00:00,30.5,45.25,12.5,273123456,2020-12-01 12:01:00,30.6,95.0,13\n"
    "*T*,uuid-x,terrestrial,3,0,*P*,terrestrial,2,1,1,0,367073680,2020-12-01 11:31:39,-74.0,40.7\n"
    "*T*,uuid-y,terrestrial,1,0,*P*,terrestrial,2,1,1,0,367073680,yesterday,-74.0,40.7\n"
)


def test_traj_points_properties_and_quarantine(tmp_path: Path) -> None:
    p = tmp_path / "a.traj"
    p.write_text(TRAJ)
    name, batches = _read(p)
    assert name == "traj"
    rows = _rows(batches).to_pylist()
    assert [r["id"] for r in rows] == ["367073680", "367073680", "273123456"]
    assert rows[0]["lon"] == -74.03917 and rows[0]["lat"] == 40.71079
    assert rows[0]["t_utc"].isoformat() == "2020-12-01T11:31:39+00:00"
    assert rows[2]["speed_kt"] == 12.5 and rows[2]["rec_offset"] == 2
    assert not any(r["time_inferred"] for r in rows)
    rej = _rejects(batches)
    assert (2, "point 2 of the trajectory: latitude/longitude out of range") in rej
    assert any(line == 3 and "point fields for 3 points" in why for line, why in rej)
    assert any(line == 4 and "point 1" in why for line, why in rej)


def test_traj_of_aircraft_is_not_ais(tmp_path: Path) -> None:
    p = tmp_path / "flights.traj"
    p.write_text("*T*,generic,1,0,*P*,generic,2,1,1,0,TSTBOSEWR1,2014-07-01 15:45:43,-71.0,42.3\n")
    src = next(iter_inputs([p]))
    with pytest.raises(FormatError, match="not an MMSI"):
        list(detect("ais", src, "traj").read(src, ReadOptions()))


@pytest.mark.slow
def test_traj_real_virginia_beach() -> None:
    path = tracktable("python_example_data/VirginiaBeach_2020_06_04_to_06_filtered.traj")
    name, batches = _read(path)
    rows = _rows(batches)
    assert name == "traj" and rows.num_rows == 39_822 and not _rejects(batches)
    ids = set(rows.column("id").to_pylist())
    assert "369990276" in ids and all(len(i) == 9 for i in ids)
    lat = rows.column("lat").to_numpy()
    assert lat.min() > 36.0 and lat.max() < 38.0


# -- MarineCadastre ---------------------------------------------------------------------------

MC_HEADER = ("MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
             "Length,Width,Draft,Cargo,TranscieverClass\n")


def test_marinecadastre_values_nulls_and_rejects(tmp_path: Path) -> None:
    p = tmp_path / "AIS_2020_06_30.csv"
    p.write_text(
        MC_HEADER
        + "366999618,2020-06-30T00:00:00,40.54291,-74.02433,19.0,-61.8,349.0,CG SHRIKE,,NPBG,90,0,26,5,,,B\n"
        + "367000140,2020-06-30T00:01:00,40.64409,-74.07157,102.3,-49.6,511,SAMUEL I NEWHOUSE,IMO7702774,"
          "WYR3371,60,5,94,21,,69,A\n"
        + "\n"
        + "367000140,2020-06-30T00:02:00,91.0,-74.07,0,0,0,,,,,,,,,,A\n"
        + "ABC,2020-06-30T00:03:00,40.6,-74.07,0,0,0,,,,,,,,,,A\n"
        + "367000140,30/06/2020,40.6,-74.07,0,0,0,,,,,,,,,,A\n"
        + "367000140,2020-06-30T00:04:00,40.6\n"
        + "367000140,2020-06-30T00:05:00,40.64409,-74.07157,fast,10,20,SAMUEL I NEWHOUSE,IMO7702774,"
          "WYR3371,60,1,94,21,5.5,69,A\n"
    )
    name, batches = _read(p)
    assert name == "marinecadastre"
    rows = _rows(batches).to_pylist()
    assert len(rows) == 3
    a, b, c = rows
    assert a["id"] == "366999618" and a["speed_kt"] == 19.0 and a["track_deg"] == pytest.approx(347.8)
    assert a["status"] == "under way using engine" and a["onground"] is False and a["callsign"] == "CG SHRIKE"
    assert b["speed_kt"] is None and b["track_deg"] is None and b["heading_deg"] is None  # 102.3, 360, 511
    assert b["status"] == "moored" and b["onground"] is True and b["rec_offset"] == 3
    assert c["speed_kt"] is None and c["status"] == "at anchor" and c["rec_offset"] == 9
    rej = dict(_rejects(batches))
    assert set(rej) == {5, 6, 7, 8}
    assert "out of range" in rej[5] and "MMSI" in rej[6] and "time" in rej[7] and "cells" in rej[8]
    counters = batches[0].counters
    assert counters["bad_cells"] == 1 and counters["blank_lines"] == 1
    reps = _rows(batches, "vessel_reports").to_pylist()
    assert [(r["mmsi"], r["imo"], r["ship_type"], r["draught_m"]) for r in reps] == [
        ("366999618", None, 90, None), ("367000140", 7702774, 60, None), ("367000140", 7702774, 60, 5.5)]


@pytest.mark.slow
def test_marinecadastre_real_ny_first_hour(tmp_path: Path) -> None:
    path = tracktable("python_example_data/NYHarbor_2020_06_30_first_hour.csv")
    name, batches = _read(path)
    rows = _rows(batches)
    assert name == "marinecadastre" and rows.num_rows == 8689 and not _rejects(batches)
    assert len(set(rows.column("id").to_pylist())) == 295
    cog = rows.column("track_deg").drop_null().to_numpy()
    assert cog.min() >= 0 and cog.max() < 360
    reps = _rows(batches, "vessel_reports")
    assert "CG SHRIKE" in reps.column("name").to_pylist()


# -- DMA ----------------------------------------------------------------------------------------

DMA_HEADER = ("# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,"
              "IMO,Callsign,Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,"
              "Destination,ETA,Data source type,A,B,C,D\n")


def test_dma_words_mapped(tmp_path: Path) -> None:
    p = tmp_path / "aisdk-2023-02-27.csv"
    p.write_text(
        DMA_HEADER
        + "27/02/2023 00:00:00,Class A,219000873,56.990903,10.304095,Moored,,0.0,30.4,81,Unknown,OXPL2,"
          "HJORTOE,Military,,5,23,GPS,2.5,AARHUS,,AIS,,,,\n"
        + "27/02/2023 00:00:01,Class A,219000873,56.990904,10.304095,Unknown value,,0.0,30.4,81,Unknown,OXPL2,"
          "HJORTOE,Military,,5,23,GPS,2.5,AARHUS,,AIS,,,,\n"
        + "27/02/2023 00:00:02,Base Station,2190064,91,181,Unknown value,,,,,Unknown,Unknown,,Undefined,,,,"
          "GPS,,Unknown,,AIS,,,,\n"
    )
    name, batches = _read(p)
    assert name == "dma"
    rows = _rows(batches).to_pylist()
    assert [(r["id"], r["status"], r["onground"]) for r in rows] == [
        ("219000873", "moored", True), ("219000873", "not defined", None)]
    assert rows[0]["t_utc"].isoformat() == "2023-02-27T00:00:00+00:00"
    assert not _rejects(batches) and batches[0].counters["not_vessel_rows"] == 1  # the base station
    reps = _rows(batches, "vessel_reports").to_pylist()
    assert reps[0]["ship_type"] == 35 and reps[0]["destination"] == "AARHUS" and reps[0]["imo"] is None


# -- ingest -------------------------------------------------------------------------------------

def test_ingest_is_idempotent_and_stores_reports(ws: Workspace, tmp_path: Path) -> None:
    p = tmp_path / "a.traj"
    p.write_text(TRAJ)
    first = ingest_paths(ws.store, "ais", [p])
    assert first.accepted == 3 and first.rejected == 3
    again = ingest_paths(ws.store, "ais", [p])
    assert again.skipped_files == 1 and ws.store.count("positions") == 3
    assert ws.store.count("quarantine") == 3


def test_compressed_and_archived_inputs(ws: Workspace, tmp_path: Path) -> None:
    import gzip
    import io
    import tarfile

    gz = tmp_path / "a.traj.gz"
    gz.write_bytes(gzip.compress(TRAJ.encode()))
    tgz = tmp_path / "day.tar.gz"
    nmea = b"\\c:1733637600*5B\\!AIVDM,1,1,,B,15NBj>PP1gG>1PVKTDTUJOv00<0M,0*09\n"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, data in (("feed/a.nmea", nmea), ("feed/b.csv", MC_HEADER.encode()
                           + b"366999618,2020-06-30T00:00:00,40.54291,-74.02433,19.0,-61.8,349.0,CG SHRIKE,,"
                             b"NPBG,90,0,26,5,,,B\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    s = ingest_paths(ws.store, "ais", [gz, tgz])
    assert s.files == 3 and s.failed_files == 0
    fmts = dict(ws.store.sql("SELECT format, count(*) FROM positions GROUP BY 1"))
    assert fmts == {"traj": 3, "nmea": 1, "marinecadastre": 1}
    assert ws.store.scalar("SELECT max(t_utc) FROM positions WHERE format = 'nmea'").year == 2024
