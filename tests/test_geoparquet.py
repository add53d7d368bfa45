"""GeoParquet export: spec metadata, WKB geometry, bbox covering, hive partitions, readable by DuckDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import shapely

from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.store import geoparquet
from sitewatch.workspace import Workspace

T0 = datetime(2024, 12, 5, 22, 0, tzinfo=UTC)


def _fill(ws: Workspace) -> None:
    n = 500
    ts = [T0 + timedelta(minutes=i) for i in range(n)]  # crosses midnight: two day partitions
    ws.store.insert("positions", pa.table({
        "t_utc": pa.array(ts, pa.timestamp("us", tz="UTC")), "source": ["adsb"] * n, "id": ["151abc"] * n,
        "lat": [34.5 + i * 0.003 for i in range(n)], "lon": [35.9 - i * 0.004 for i in range(n)],
        "alt_ft": [10000.0] * n}))


def test_geoparquet_layout_and_metadata(ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(ws)
    ws.close()
    out = tmp_path / "gp"
    assert main(["-w", str(ws.folder), "export", "positions", "--format", "geoparquet", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 500
    days = sorted(p.name for p in out.iterdir())
    assert days == ["day=2024-12-05", "day=2024-12-06"]
    cells = {p.name for p in out.glob("day=*/cell=*")}
    assert {"cell=34_035", "cell=35_035", "cell=35_034"} <= cells
    f = next(out.rglob("*.parquet"))
    meta = json.loads(pq.read_schema(f).metadata[b"geo"])
    assert meta["version"] == "1.1.0" and meta["primary_column"] == "geometry"
    assert meta["columns"]["geometry"]["encoding"] == "WKB"
    assert meta["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    t = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    pts = shapely.from_wkb(t.column("geometry").to_numpy(zero_copy_only=False))
    assert shapely.get_x(pts).tolist() == pytest.approx(t.column("lon").to_pylist())
    assert shapely.get_y(pts).tolist() == pytest.approx(t.column("lat").to_pylist())
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet', hive_partitioning=true) "
                   "WHERE day = '2024-12-06'").fetchall()[0][0]
    assert n == 500 - 120
    # never overwrites, and leaves no partial folder behind
    with pytest.raises(InputError, match="already exists"):
        geoparquet.write(iter([]), out)
    assert not (tmp_path / "gp.partial").exists()
