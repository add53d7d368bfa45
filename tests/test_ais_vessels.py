"""Vessel identity: MID flags, station kinds, government markers, watchlist, the vessels table and CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import shared, tracktable
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.reference.mid import MID_TO_ISO2, flag, station
from sitewatch.sources.ais._common import positions_table, reports_table
from sitewatch.store.db import Store
from sitewatch.vessels import government_reason, on_watch, parse_watch, refresh
from sitewatch.workspace import Workspace


@pytest.mark.parametrize(("mmsi", "iso", "kind"), [
    ("273456780", "RU", "ship"), ("468123456", "SY", "ship"), ("366999618", "US", "ship"),
    ("636012345", "LR", "ship"), ("002731234", "RU", "coast-station"), ("027312345", "RU", "group"),
    ("111273001", "RU", "sar-aircraft"), ("992731234", "RU", "aid-to-navigation"),
    ("982731234", "RU", "auxiliary-craft"), ("970123456", None, "ais-sart"), ("999999999", None,
                                                                             "aid-to-navigation"),
])
def test_flag_and_station_from_mmsi(mmsi: str, iso: str | None, kind: str) -> None:
    assert flag(mmsi) == iso and station(mmsi)[0] == kind


def test_mid_table_is_sane() -> None:
    assert len(MID_TO_ISO2) > 280
    assert all(200 < mid < 776 and len(iso) == 2 and iso.isupper() for mid, iso in MID_TO_ISO2.items())
    assert {MID_TO_ISO2[m] for m in (351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373, 374)} == {"PA"}


def test_government_markers() -> None:
    assert government_reason("273111111", 35, "ADMIRAL GRIGOROVICH") == "ship type 35 (military operations)"
    assert "law enforcement" in (government_reason("211000000", 55, None) or "")
    assert "3699xxxxx" in (government_reason("369970012", None, None) or "")
    assert "heuristic" in (government_reason("338000001", 90, "USNS COMFORT") or "")
    assert government_reason("367186370", 31, "HMS LIBERTY") is None  # a tug: the name alone is not enough
    assert government_reason("367000140", 60, "SAMUEL I NEWHOUSE") is None
    assert "SAR aircraft" in (government_reason("111273001", None, None) or "")


def test_watchlist_entries() -> None:
    assert parse_watch(" 273456780 ") == ("mmsi", "273456780")
    assert parse_watch("admiral  *") == ("name", "ADMIRAL *")
    with pytest.raises(InputError, match="at most 9"):
        parse_watch("1234567890")
    assert on_watch("273456780", None, ["273456780"])
    assert on_watch("273000001", "Admiral  Essen", ["ADMIRAL *"])
    assert not on_watch("273000001", "VICE ADMIRAL", ["ADMIRAL *"])


def test_refresh_merges_latest_static_and_positions_only_vessels() -> None:
    store = Store(":memory:")
    t0 = int(datetime(2024, 12, 8, tzinfo=UTC).timestamp() * 1e6)
    store.insert("vessel_reports", reports_table([
        {"t_utc_us": t0, "mmsi": "273111111", "rec_offset": 1, "name": "OLD NAME", "ship_type": 35},
        {"t_utc_us": t0 + 10**6, "mmsi": "273111111", "rec_offset": 2, "name": "ADMIRAL GRIGOROVICH",
         "destination": "TARTUS"},
    ], "nmea"))
    store.insert("positions", positions_table(
        t_utc_us=pa.array([t0]).to_numpy(), mmsi=["468000001"], lat=pa.array([34.9]).to_numpy(),
        lon=pa.array([35.87]).to_numpy(), fmt="nmea", rec_offset=pa.array([1]).to_numpy()))
    assert refresh(store, ["468000001"]) == 2
    rows = {r["mmsi"]: r for r in store.rows("SELECT * FROM vessels")}
    ru = rows["273111111"]
    assert (ru["name"], ru["ship_type"], ru["destination"], ru["flag"]) == ("ADMIRAL GRIGOROVICH", 35, "TARTUS", "RU")
    assert ru["government"] and not ru["watch"]
    sy = rows["468000001"]
    assert sy["flag"] == "SY" and sy["watch"] and not sy["government"] and sy["name"] is None


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_cli_ingest_vessels_and_watch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "ws")
    Workspace.init(ws).close()
    csv = str(tracktable("python_example_data/NYHarbor_2020_06_30_first_hour.csv"))
    nmea = str(shared("data/ais/pyais-samples/mixed.txt"))
    code, out, _ = _cli(capsys, "-q", "-w", ws, "ingest", "ais", csv, nmea)
    assert code == 0
    assert json.loads(out.strip().splitlines()[-1])["accepted"] > 8000
    code, out, _ = _cli(capsys, "-w", ws, "vessels", "list", "--government", "--format", "json")
    gov = {r["mmsi"]: r for r in json.loads(out)}
    assert {"366999618", "366999973", "367286000"} <= set(gov) and "367186370" not in gov
    code, out, _ = _cli(capsys, "-w", ws, "vessels", "watch", "add", "367000140", "EVER *")
    assert json.loads(out)["vessels_on_watch"] == 2  # SAMUEL I NEWHOUSE and EVER DIADEM
    code, out, _ = _cli(capsys, "-w", ws, "vessels", "show", "ever  diadem", "--format", "json")
    shown = json.loads(out)
    assert shown["mmsi"] == "351759000" and shown["flag"] == "PA" and shown["watch"] and shown["imo"] == 9134270
    code, _, err = _cli(capsys, "-w", ws, "vessels", "show", "NO SUCH SHIP")
    assert code == 2 and "no vessel named" in err
    code, out, _ = _cli(capsys, "-w", ws, "vessels", "watch", "remove", "EVER *")
    assert json.loads(out) == {"watchlist": ["367000140"]}
