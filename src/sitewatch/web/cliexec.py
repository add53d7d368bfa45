"""Run a ``sitewatch`` command inside the server, for a client (``POST /api/v1/exec``).

The command runs on a thread of the server with the server's open workspace
(:func:`sitewatch.cli._common.served`), exactly as it would in a terminal: its stdout and
stderr go to the client, its exit code is the client's. Output is routed per thread: the
process's ``sys.stdout``/``sys.stderr`` are replaced (once) by :class:`_Router` objects
that write to the calling thread's sink when it has one, else where they wrote before.

Writes: a command that writes (see :func:`sitewatch.cli._remote.kind_of`) holds the
store's write gate for its whole run, so it is the only writer while it reads and writes
(an aircraft database merge, ``analyze``); readers never wait. A live ``stream`` takes the
gate per batch only, and stops when its client goes away.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from sitewatch.cli._common import Job, served
from sitewatch.web.jobs import Emit, JobHandle
from sitewatch.workspace import Workspace

_LOCAL = threading.local()


class _Router(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` that send a job thread's writes to its client."""

    def __init__(self, name: str, original: Any) -> None:
        super().__init__()
        self.name = name
        self.original = original

    def _sink(self) -> tuple[Callable[[str], None], bool] | None:
        sinks: dict[str, tuple[Callable[[str], None], bool]] | None = getattr(_LOCAL, "sinks", None)
        return None if sinks is None else sinks.get(self.name)

    def write(self, s: str) -> int:
        sink = self._sink()
        if sink is None:
            return int(self.original.write(s) or 0)
        if not isinstance(s, str):  # a text stream, as click tells them apart (it writes b"" to see)
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if s:
            sink[0](s)
        return len(s)

    def flush(self) -> None:
        if self._sink() is None:
            self.original.flush()

    def isatty(self) -> bool:
        sink = self._sink()
        return sink[1] if sink is not None else bool(self.original.isatty())

    def fileno(self) -> int:
        if self._sink() is not None:
            raise io.UnsupportedOperation("a client's stream has no file descriptor")
        return int(self.original.fileno())

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8" if self._sink() is not None else str(getattr(self.original, "encoding", "utf-8"))

    @property
    def buffer(self) -> Any:
        if self._sink() is not None:
            raise AttributeError("buffer")
        return self.original.buffer


_INSTALL = threading.Lock()


def install() -> None:
    """Route ``sys.stdout``/``sys.stderr`` per thread (idempotent; again if someone replaced them)."""
    with _INSTALL:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router("stdout", sys.stdout)
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router("stderr", sys.stderr)


def run(argv: Sequence[str], workspace: Workspace, emit: Emit, handle: JobHandle, kind: str, columns: int = 160,
        out_tty: bool = False, err_tty: bool = False) -> int:
    """Run ``sitewatch argv`` for a client; return its exit code (see the module docstring)."""
    from sitewatch.cli import main

    install()
    job = Job(workspace, columns=max(40, min(columns, 1000)))
    handle.on_cancel.append(job.cancel)
    _LOCAL.sinks = {"stdout": (lambda s: emit({"o": s}), out_tty), "stderr": (lambda s: emit({"e": s}), err_tty)}
    served(job)
    gate = getattr(workspace.store, "gate", None) if kind == "write" else None
    try:
        with gate if gate is not None else contextlib.nullcontext():
            return main(list(argv))
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 1
    except BaseException:
        emit({"e": traceback.format_exc()})
        return 1
    finally:
        served(None)
        _LOCAL.sinks = None
