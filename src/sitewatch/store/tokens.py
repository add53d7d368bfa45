"""The ``tokens`` table: the dashboard's API tokens (salted hashes; see :mod:`sitewatch.web.auth`)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sitewatch import schema as S
from sitewatch.store.db import Store


def insert_token(store: Store, row: dict[str, Any]) -> None:
    """Store one token row (its hash and salt, never the token)."""
    store.insert("tokens", pa.Table.from_pylist([row], schema=S.TOKENS.arrow_schema()))


def tokens(store: Store) -> list[dict[str, Any]]:
    """Every token row, oldest first."""
    return store.rows("SELECT token_id, name, scope, hash, salt, t_created_utc, revoked FROM tokens "
                      "ORDER BY t_created_utc")


def revoke_token(store: Store, token_id: str) -> int:
    """Mark ``token_id`` revoked; how many rows had that id (0: unknown)."""
    n = store.scalar("SELECT count(*) FROM tokens WHERE token_id = ?", [token_id])
    store.sql("UPDATE tokens SET revoked = true WHERE token_id = ?", [token_id])
    return int(n or 0)
