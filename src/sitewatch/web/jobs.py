"""Long operations answered as a stream of JSON lines while they run.

:func:`stream_job` runs ``fn(emit, job)`` on a thread of its own and answers with
``application/x-ndjson``: every ``emit({...})`` becomes a line (progress, a file done, a
warning, a command's output), a ``{"k": 1}`` line keeps the connection alive each second
(so a client's read timeout never fires during a long quiet step), and the last line is
``{"result": …}`` or ``{"error": {"type": …, "message": …}}``. When the client goes away
(Ctrl-C) the job's ``cancelled`` event is set and its ``on_cancel`` callbacks run (a live
stream stops and commits); other work runs to its end, its transaction intact.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import StreamingResponse

from sitewatch.errors import SitewatchError

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]
KEEPALIVE_S = 1.0
_DONE = object()


@dataclass
class JobHandle:
    cancelled: threading.Event = field(default_factory=threading.Event)
    on_cancel: list[Callable[[], None]] = field(default_factory=list)

    def cancel(self) -> None:
        self.cancelled.set()
        for fn in list(self.on_cancel):
            try:
                fn()
            except Exception:  # pragma: no cover - a callback failing must not stop the others
                log.exception("cancelling a job")


def error_json(exc: BaseException) -> dict[str, str]:
    if isinstance(exc, SitewatchError):
        return {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, OSError):
        return {"type": "InputError", "message": f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")}
    log.exception("job failed", exc_info=exc)
    return {"type": "InternalError", "message": f"the server failed: {type(exc).__name__}: {exc} (see its log)"}


def _default(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, set | frozenset):
        return sorted(v)
    return str(v)


def line(obj: Any) -> bytes:
    return (json.dumps(obj, default=_default) + "\n").encode()


def stream_job(fn: Callable[[Emit, JobHandle], Any]) -> StreamingResponse:
    """Run ``fn`` on a thread; stream what it emits, then its result (see the module docstring).

    The thread starts when the answer starts (on the event loop), whichever thread calls this."""
    handle = JobHandle()

    async def gen() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[Any] = asyncio.Queue()

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(q.put_nowait, item)

        def work() -> None:
            try:
                result = fn(put, handle)
                put({"result": result})
            except BaseException as exc:  # every failure is reported to the client, never lost
                put({"error": error_json(exc)})
            finally:
                put(_DONE)

        threading.Thread(target=work, name="sitewatch-job", daemon=True).start()
        finished = False
        try:
            while True:
                try:
                    item = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield line({"k": 1})
                    continue
                items = [item]
                while not q.empty():
                    items.append(q.get_nowait())
                chunk = bytearray()
                for it in _merge(items):
                    if it is _DONE:
                        finished = True
                        break
                    chunk += line(it)
                if chunk:
                    yield bytes(chunk)
                if finished:
                    return
        finally:
            if not finished:
                handle.cancel()

    return StreamingResponse(gen(), media_type="application/x-ndjson", headers={"X-Accel-Buffering": "no"})


def _merge(items: list[Any]) -> list[Any]:
    """Consecutive output pieces of one stream as one line (a progress bar writes many)."""
    out: list[Any] = []
    for it in items:
        if (out and isinstance(it, dict) and isinstance(out[-1], dict) and len(it) == 1 and len(out[-1]) == 1
                and next(iter(it)) in ("o", "e") and next(iter(it)) == next(iter(out[-1]))
                and isinstance(it[next(iter(it))], str) and isinstance(out[-1][next(iter(it))], str)):
            key = next(iter(it))
            out[-1] = {key: out[-1][key] + it[key]}
        else:
            out.append(it)
    return out
