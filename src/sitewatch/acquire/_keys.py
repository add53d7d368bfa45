"""Keys and tokens of the sources: from the environment, never from files, never shown.

Contract: :func:`secret` reads one key. Where it comes from: ``[settings.keys] NAME =
"env:VARIABLE"`` in ``sitewatch.toml`` names the environment variable (so a workspace can
say which variable holds which key; the value itself is never written there: a literal is
refused with a :class:`~sitewatch.errors.ConfigError` that does not repeat it), else the
source's default variable. The result is a :class:`Secret`: ``str()``/``repr()`` show only
where it came from, :meth:`Secret.reveal` gives the value to the code that sends it, and
:meth:`Secret.scrub` removes it from a text before that text is logged or stored (a
server's error message that echoes it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sitewatch.errors import ConfigError


class Secret:
    """A key or token; shown as where it came from, never as itself."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        return text.replace(self._value, "****") if self._value else text

    def __repr__(self) -> str:
        return f"Secret(from ${self.origin})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into a job or a cache
        raise TypeError("a Secret is not serialisable")


def env_name(settings: Mapping[str, Any] | None, name: str, default_env: str) -> str:
    """The environment variable holding key ``name`` (``[settings.keys]``, else ``default_env``)."""
    keys = (settings or {}).get("keys") if isinstance(settings, Mapping) else None
    ref = keys.get(name) if isinstance(keys, Mapping) else None
    if ref is None:
        return default_env
    if not isinstance(ref, str) or not ref.startswith("env:") or not ref[4:].strip():
        raise ConfigError(f"[settings.keys] {name} in sitewatch.toml must name an environment variable, like "
                          f'{name} = "env:{default_env}"; keys are never stored in the workspace')
    return ref[4:].strip()


def secret(settings: Mapping[str, Any] | None, name: str, default_env: str) -> Secret | None:
    """Key ``name`` from the environment (see the module docstring); ``None`` when unset."""
    var = env_name(settings, name, default_env)
    value = os.environ.get(var, "").strip()
    return Secret(value, var) if value else None
