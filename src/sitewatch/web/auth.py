"""API tokens: created by ``sitewatch token create``, kept only as salted scrypt hashes.

A token is ``swt_<id>_<secret>``; ``id`` locates the row, the secret is checked with
``hashlib.scrypt`` and a constant-time comparison. Scopes, each including the ones before:
``read`` (GET routes), ``write`` (also observations from the dashboard, site edits) and
``admin`` (also ingest, analyze, assess, reports and ``sitewatch --server URL`` commands).
Above them is the server's *owner* token (:mod:`sitewatch.owner`): random per run, never
stored, readable only by the user who runs the server; it also lets a command read and
write files on the server's machine. Policy (enforced in :mod:`sitewatch.web.app`):

* bound to loopback (127.0.0.1, ::1, localhost): reads need no token from loopback
  clients; writes always need a token of the scope they need;
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
from sitewatch.store import tokens as TOK
from sitewatch.store.db import Store

SCOPES = ("read", "write", "admin")
OWNER = "owner"  # the scope of the server's own token (see sitewatch.owner)
_RANK = {"read": 0, "write": 1, "admin": 2, OWNER: 3}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~15 ms per check on this class of machine


@dataclass(frozen=True)
class Token:
    token_id: str
    name: str | None
    scope: str

    def allows(self, scope: str) -> bool:
        """Whether this token's scope includes ``scope`` (read < write < admin < owner)."""
        return _RANK.get(self.scope, -1) >= _RANK[scope]


def owner_token(presented: str | None, expected: str | None) -> Token | None:
    """The owner's identity when ``presented`` is this server's owner token."""
    if not presented or not expected or len(presented) != len(expected):
        return None
    return Token(OWNER, OWNER, OWNER) if hmac.compare_digest(presented, expected) else None


def _hash(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32).hex()


def create(store: Store, scope: str = "read", name: str | None = None) -> str:
    """Create a token and return it in full (shown once; only its hash is stored)."""
    if scope not in SCOPES:
        raise InputError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    token_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    salt = secrets.token_bytes(16)
    TOK.insert_token(store, {"token_id": token_id, "name": name, "scope": scope, "hash": _hash(secret, salt),
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
    for row in TOK.tokens(store):
        if (row["token_id"] == token_id and not row["revoked"]
                and hmac.compare_digest(row["hash"], _hash(secret, bytes.fromhex(row["salt"])))):
            return Token(token_id, row["name"], row["scope"])
    return None


def has_tokens(store: Store) -> bool:
    return any(not r["revoked"] for r in TOK.tokens(store))


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")
