"""Events as Parquet with the columns of the ``events`` table (``sitewatch analyze --engine spark``).

Rows missing a required column value (event_id, kind, t_start, confidence, details,
evidence, analysis) are quarantined with their row number; unknown columns are an error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sitewatch import schema
from sitewatch.errors import FormatError
from sitewatch.sources.base import Batch, InputFile, ReadOptions, Reject, register, seekable

BATCH_ROWS = 100_000


@register
class EventsParquet:
    kind = "events"
    name = "parquet"

    def sniff(self, head: bytes, name: str) -> float:
        return 0.95 if head[:4] == b"PAR1" else 0.0

    def read(self, src: InputFile, opts: ReadOptions) -> Iterator[Batch]:
        decl = schema.EVENTS
        with src.open() as f:
            pf = pq.ParquetFile(seekable(f))
            names = pf.schema_arrow.names
            unknown = [n for n in names if n not in decl.names]
            if unknown:
                raise FormatError(f"columns {unknown} are not event columns {decl.names}", path=src.name)
            required = [c.name for c in decl.columns if not c.nullable]
            missing = [c for c in required if c not in names]
            if missing:
                raise FormatError(f"missing event columns {missing}", path=src.name)
            row0 = 0
            for rb in pf.iter_batches(batch_size=BATCH_ROWS):
                t = pa.Table.from_batches([rb])
                ok = pa.array([True] * t.num_rows)
                for c in required:
                    ok = pc.and_(ok, pc.is_valid(t.column(c)))
                bad = t.filter(pc.invert(ok))
                rejects = [Reject(row0 + i, str(r)[:2000], "a required event column is empty", "row")
                           for i, r in zip(pc.indices_nonzero(pc.invert(ok)).to_pylist(), bad.to_pylist(), strict=True)]
                row0 += t.num_rows
                yield Batch("events", t.filter(ok), rejects)
