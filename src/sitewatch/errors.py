"""The one error root of sitewatch and its subclasses.

Every error a user can meet derives from :class:`SitewatchError`; each subclass also
inherits the builtin that fits (``ValueError``, ``OSError``, ``LookupError``) so callers
that catch builtins keep working. Messages say what went wrong *and what to do*.
The CLI maps any ``SitewatchError`` to exit code 2 and a one-line message on stderr.
"""

from __future__ import annotations

from collections.abc import Sequence


class SitewatchError(Exception):
    """Root of every error sitewatch raises on purpose."""

    exit_code = 2


class WorkspaceError(SitewatchError, OSError):
    """No workspace, or a broken one, at the given folder."""

    def __init__(self, message: str, folder: str | None = None) -> None:
        super().__init__(message)
        self.folder = folder

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(SitewatchError, ValueError):
    """A setting in ``sitewatch.toml`` or a rules/watch file is invalid."""


class InputError(SitewatchError, ValueError):
    """A user-supplied argument or file cannot be used.

    ``path`` and ``offset`` (line number or byte offset, see ``offset_unit``) locate it.
    """

    def __init__(
        self,
        message: str,
        path: str | None = None,
        offset: int | None = None,
        offset_unit: str = "line",
    ) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset
        self.offset_unit = offset_unit

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}"
            if self.offset is not None:
                where += f" ({self.offset_unit} {self.offset})"
            where += ": "
        return where + str(self.args[0])


class FormatError(InputError):
    """A file is not in any format sitewatch can read (or not in the one asked for)."""


class NotFoundError(SitewatchError, LookupError):
    """A named thing (site, airport, port, scene, model …) does not exist.

    ``candidates`` holds the closest matches, shown in the message.
    """

    def __init__(self, what: str, name: str, candidates: Sequence[str] = (), hint: str = "") -> None:
        self.what = what
        self.name = name
        self.candidates = list(candidates)
        msg = f"no {what} named {name!r}"
        if self.candidates:
            msg += "; closest: " + ", ".join(self.candidates)
        if hint:
            msg += f". {hint}"
        super().__init__(msg)

    def __str__(self) -> str:
        return str(self.args[0])


class AmbiguousError(SitewatchError, LookupError):
    """A name matches several things; ``candidates`` lists them."""

    def __init__(self, what: str, name: str, candidates: Sequence[str], hint: str = "") -> None:
        self.what = what
        self.name = name
        self.candidates = list(candidates)
        msg = f"{what} {name!r} is ambiguous: " + "; ".join(self.candidates)
        if hint:
            msg += f". {hint}"
        super().__init__(msg)

    def __str__(self) -> str:
        return str(self.args[0])


class StoreError(SitewatchError, OSError):
    """The workspace database cannot be opened, migrated or written."""


class DecodeError(SitewatchError, ValueError):
    """A single record could not be decoded; carries the bad value."""

    def __init__(self, message: str, value: object = None) -> None:
        super().__init__(message)
        self.value = value


class DependencyError(SitewatchError, ImportError):
    """An optional dependency or external tool is missing; the message says how to get it."""


class AuthError(SitewatchError, PermissionError):
    """A request or action lacks a valid token or scope."""
