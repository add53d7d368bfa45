"""Delivery channels for alerts: a log file, a webhook (JSON POST), email over SMTP.

Webhooks are retried with exponential backoff (``attempts`` tries, starting at
``backoff_s``); each channel's outcome is recorded with the alert, so a failed delivery
is visible and never silently lost. Only the standard library is used.
"""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any

DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF_S = 0.5
TIMEOUT_S = 10.0


def send(channel: dict[str, Any], payload: dict[str, Any], base: Path) -> str:
    """Deliver ``payload`` through ``channel``; return 'ok' or 'error: …' (never raises)."""
    try:
        kind = channel["type"]
        if kind == "log":
            path = Path(channel["path"])
            if not path.is_absolute():
                path = base / path
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(payload, sort_keys=True) + "\n")
            return "ok"
        if kind == "webhook":
            return _webhook(channel, payload)
        if kind == "email":
            return _email(channel, payload)
        return f"error: unknown channel type {kind!r}"
    except Exception as exc:  # a broken channel must not stop the other channels
        return f"error: {type(exc).__name__}: {exc}"


def _webhook(channel: dict[str, Any], payload: dict[str, Any]) -> str:
    attempts = int(channel.get("attempts", DEFAULT_ATTEMPTS))
    delay = float(channel.get("backoff_s", DEFAULT_BACKOFF_S))
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "sitewatch-alerts"}
    if channel.get("secret"):
        import hashlib
        import hmac

        headers["X-Sitewatch-Signature"] = hmac.new(str(channel["secret"]).encode(), body,
                                                    hashlib.sha256).hexdigest()
    last = ""
    for i in range(attempts):
        req = urllib.request.Request(channel["url"], data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                if 200 <= resp.status < 300:
                    return "ok"
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                break  # the receiver refuses this payload: retrying will not help
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if i + 1 < attempts:
            time.sleep(delay * (2**i))
    return f"error: webhook failed after {attempts} attempts: {last}"


def _email(channel: dict[str, Any], payload: dict[str, Any]) -> str:
    host, _, port = str(channel["smtp"]).partition(":")
    msg = EmailMessage()
    msg["Subject"] = f"[sitewatch] {payload['rule']}: {payload['text']}"[:200]
    msg["From"] = channel.get("from", "sitewatch@localhost")
    msg["To"] = channel["to"]
    msg.set_content(payload["text"] + "\n\n" + json.dumps(payload, indent=2, sort_keys=True))
    with smtplib.SMTP(host, int(port or 25), timeout=TIMEOUT_S) as s:
        if channel.get("starttls"):
            s.starttls()
        if channel.get("user"):
            s.login(channel["user"], channel.get("password", ""))
        s.send_message(msg)
    return "ok"
