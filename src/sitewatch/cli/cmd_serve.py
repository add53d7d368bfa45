"""``sitewatch serve`` (dashboard + API) and ``sitewatch token create|list|revoke``."""

from __future__ import annotations

import click

from sitewatch.cli._common import Ctx, emit, format_option, pass_ctx
from sitewatch.errors import InputError


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything beyond 127.0.0.1 requires a token on every request.")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free one; the discovery file says which).")
@click.option("--poll-s", default=1.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="How often the live stream looks for new positions and events.")
@click.option("--adsb-beast", metavar="HOST:PORT", multiple=True, help="Stream a Beast feed into the workspace while serving.")
@click.option("--adsb-sbs", metavar="HOST:PORT", multiple=True, help="Stream an SBS (port 30003) feed while serving.")
@click.option("--ais-tcp", metavar="HOST:PORT", multiple=True, help="Stream AIS NMEA over TCP while serving.")
@click.option("--ais-udp", metavar="PORT", multiple=True, help="Receive AIS NMEA on this UDP port while serving.")
@pass_ctx
def serve_cmd(ctx: Ctx, host: str, port: int, poll_s: float, adsb_beast: tuple[str, ...], adsb_sbs: tuple[str, ...],
              ais_tcp: tuple[str, ...], ais_udp: tuple[str, ...]) -> None:
    """Serve the dashboard and the JSON API (OpenAPI at /openapi.json).

    The server owns the workspace while it runs: it writes .sitewatch-server.json in the
    workspace (URL, pid and a token only you can read, mode 600), and every `sitewatch`
    command and `sitewatch.open()` on the workspace then runs through it — ingest,
    analyze, events, site add … work with the dashboard open, and a long write never
    holds up its pages. The file goes when the server stops (a stale one, of a server that
    was killed, is ignored and removed). Live feeds given with --adsb-beast/--adsb-sbs/
    --ais-tcp/--ais-udp are streamed in by the server itself and appear without reload.

    \b
    Examples:
      sitewatch serve                       # http://127.0.0.1:8700, no token needed locally
      sitewatch token create --scope read   # then, to share on the network:
      sitewatch serve --host 0.0.0.0 --port 8700
      sitewatch serve --adsb-beast 127.0.0.1:30005 --ais-tcp 127.0.0.1:10110   # live feeds shown as they arrive
    """
    import contextlib
    import signal
    import socket

    import uvicorn

    from sitewatch import owner
    from sitewatch.errors import StoreError
    from sitewatch.web.app import create_app
    from sitewatch.workspace import resolve_dir

    folder = resolve_dir(ctx.workspace)
    running = owner.find(folder)
    if running is not None:
        raise StoreError(f"a server already owns this workspace (pid {running.pid}, {running.url}); "
                         "open that one, or stop it first")
    feeds = ([("adsb-beast", t) for t in adsb_beast] + [("adsb-sbs", t) for t in adsb_sbs]
             + [("ais-tcp", t) for t in ais_tcp] + [("ais-udp", t) for t in ais_udp])
    token = owner.new_token()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # callers that find the discovery file wait in the backlog, never refused
    except OSError as exc:
        sock.close()
        raise StoreError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port") from None
    bound = sock.getsockname()[1]
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{url_host if ':' not in url_host else f'[{url_host}]'}:{bound}"
    # published before the database is opened: from now on callers wait for this server (in
    # the listen backlog) instead of opening the file and finding it locked
    owner.publish(folder, url, bound, token)
    try:
        app = create_app(folder, host=host, live_poll_s=poll_s, live_feeds=feeds, owner_token=token)
    except BaseException:
        owner.withdraw(folder, token)
        sock.close()
        raise
    click.echo(f"sitewatch dashboard on http://{host}:{bound}/", err=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning" if not ctx.verbose else "info"))
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # uvicorn shuts down on SIGINT/SIGTERM, then raises the signal again: _stopped turns it
        # into _Stop here, so the clean-up below runs and the exit code is 0
        with contextlib.suppress(_Stop):
            server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        app.state.ws.close()  # the database first: once the file is gone, callers open it directly
        owner.withdraw(folder, token)


class _Stop(Exception):
    """SIGINT/SIGTERM after uvicorn's graceful shutdown."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stop(signum)


@click.group("token")
def token_group() -> None:
    """API tokens for the dashboard server (only their hashes are stored)."""


@token_group.command("create")
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), default="read", show_default=True,
              help="read: GET routes and read commands through --server; write: also observations; admin: also "
                   "ingest, analyze, assess, reports, site edits and the other commands that run through --server.")
@click.option("--name", help="A label to recognise the token by.")
@pass_ctx
def token_create(ctx: Ctx, scope: str, name: str | None) -> None:
    """Create a token and print it once (keep it: it cannot be shown again).

    \b
    Examples:
      sitewatch token create --scope read --name newsroom
      curl -H "Authorization: Bearer $(sitewatch token create)" http://host:8700/api/sites
    """
    from sitewatch.web import auth

    with ctx.open() as ws:
        tok = auth.create(ws.store, scope, name)
    click.echo(tok)


@token_group.command("list")
@format_option("table", "json")
@pass_ctx
def token_list(ctx: Ctx, fmt: str) -> None:
    """List tokens (ids, names, scopes; never the secrets).

    \b
    Example:
      sitewatch token list
    """
    from sitewatch.store import tokens as TOK

    with ctx.open() as ws:
        rows = [{k: r[k] for k in ("token_id", "name", "scope", "t_created_utc", "revoked")} for r in TOK.tokens(ws.store)]
    emit(rows, fmt)


@token_group.command("revoke")
@click.argument("token_id")
@pass_ctx
def token_revoke(ctx: Ctx, token_id: str) -> None:
    """Revoke a token by its id (the 8 hex characters after swt_).

    \b
    Example:
      sitewatch token revoke 1a2b3c4d
    """
    from sitewatch.store import tokens as TOK

    with ctx.open() as ws:
        if not TOK.revoke_token(ws.store, token_id):
            raise InputError(f"no token with id {token_id!r}; see `sitewatch token list`")


def register(root: click.Group) -> None:
    root.add_command(serve_cmd)
    root.add_command(token_group)
