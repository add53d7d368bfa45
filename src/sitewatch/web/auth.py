"""API tokens: created by ``sitewatch token create``, kept only as salted scrypt hashes.

A token is ``swt_<id>_<secret>``; ``id`` locates the row, the secret is checked with
``hashlib.scrypt`` and a constant-time comparison. Scopes: ``read`` (GET routes) and
``write`` (also POST/PUT/DELETE). Policy (enforced in :mod:`sitewatch.web.app`):

* bound to loopback (127.0.0.1, ::1, localhost): reads need no token from loopback
  clients; writes always need a write token;
* bound to any other address: every request needs a valid token, and the server refuses
  to start while the workspace has none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sitewatch.errors import InputError
from sitewatch.store import web_queries as Q
from sitewatch.store.db import Store

SCOPES = ("read", "write")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~15 ms per check on this class of machine


@dataclass(frozen=True)
class Token:
    token_id: str
    name: str | None
    scope: str


def _hash(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32).hex()


def create(store: Store, scope: str = "read", name: str | None = None) -> str:
    """Create a token and return it in full (shown once; only its hash is stored)."""
    if scope not in SCOPES:
        raise InputError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    token_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    salt = secrets.token_bytes(16)
    Q.insert_token(store, {"token_id": token_id, "name": name, "scope": scope, "hash": _hash(secret, salt),
                           "salt": salt.hex(), "t_created_utc": datetime.now(UTC), "revoked": False})
    return f"swt_{token_id}_{secret}"


def verify(store: Store, presented: str | None) -> Token | None:
    """The token's identity if ``presented`` is valid and not revoked, else ``None``."""
    if not presented or not presented.startswith("swt_") or len(presented) > 200:
        return None
    try:
        _, token_id, secret = presented.split("_", 2)
    except ValueError:
        return None
    for row in Q.tokens(store):
        if (row["token_id"] == token_id and not row["revoked"]
                and hmac.compare_digest(row["hash"], _hash(secret, bytes.fromhex(row["salt"])))):
            return Token(token_id, row["name"], row["scope"])
    return None


def has_tokens(store: Store) -> bool:
    return any(not r["revoked"] for r in Q.tokens(store))


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")
