"""Commands that run in the server which owns the workspace.

While ``sitewatch serve`` runs on a workspace it holds the database, so :func:`forward`
sends a command there instead of opening the file: the server runs the very same command
(with its open workspace) and streams back its stdout, stderr (progress bars included) and
exit code. Found by the discovery file (:mod:`sitewatch.owner`) or named with ``--server
URL --token T``.

What goes where (:func:`where`):

* ``init``, ``serve``, ``demo``, ``rules``, ``models`` and ``--help`` run here: they do not
  use the database (``demo`` makes workspaces of its own);
* with the owner token (same machine, same user) every other command runs in the server;
  file arguments are made absolute first (:func:`parse` knows which arguments are files from
  each command's declared ``click.Path`` parameters), because the server's current folder
  is not the caller's;
* with an API token (another machine) only :data:`REMOTE` commands run: input files are
  uploaded, output files (``--out``) written in the server's scratch folder and sent back;
  :data:`READ` commands need a read token, the others an admin token.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

LOCAL = ("init", "serve", "demo", "rules", "models")
READ = frozenset({
    "events", "site list", "site show", "status", "vessels list", "vessels show", "vessels watch list",
    "aircraft list", "aircraft show", "aircraft types", "scenes", "counts", "alerts", "query two-box",
    "query aircraft", "query flights", "token list", "watch list", "timeline", "indicators",
})
STREAMS = frozenset({"stream adsb", "stream ais", "watch run"})  # long-running: the write gate per batch
REMOTE = (READ - {"token list"}) | {
    "analyze", "assess", "report", "site add", "site remove", "site zone add", "site zone remove",
    "ingest adsb", "ingest ais", "ingest observations", "ingest positions", "ingest events",
    "export positions", "export events", "export evidence",
}


@dataclass
class Parsed:
    """A command line taken apart the way click will read it."""

    path: tuple[str, ...] = ()
    root_flags: list[str] = field(default_factory=list)  # -v / -q, passed on
    args: list[str] = field(default_factory=list)  # the leaf command's arguments
    workspace: str | None = None
    server: str | None = None
    token: str | None = None
    help: bool = False
    inputs: list[int] = field(default_factory=list)  # indexes in args of existing files read
    outputs: list[int] = field(default_factory=list)  # indexes in args of files written

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def argv(self) -> list[str]:
        return [*self.root_flags, *self.path, *self.args]


def _options(cmd: click.Command) -> dict[str, click.Option]:
    return {o: p for p in cmd.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}


def _takes_value(p: click.Option) -> bool:
    return not (p.is_flag or p.count)


def _path_kind(p: click.Parameter) -> str | None:
    t = p.type
    if isinstance(t, click.Path):
        return "in" if t.exists else "out"
    if isinstance(t, click.File):
        return "in" if "r" in t.mode else "out"
    return None


def parse(root: click.Group, argv: Sequence[str]) -> Parsed:
    """Split ``argv`` into root options, the command path and the leaf's arguments, and find
    the arguments that name files (see the module docstring)."""
    out = Parsed()
    toks = list(argv)
    opts = _options(root)
    i = 0
    while i < len(toks) and toks[i].startswith("-") and toks[i] != "-":
        tok = toks[i]
        name, eq, val = tok.partition("=")
        p = opts.get(name)
        if tok in ("-h", "--help", "--version"):
            out.help = True
        if p is None and len(tok) > 1 and tok[1] != "-" and set(tok[1:]) <= {"v", "q"}:
            out.root_flags.append(tok)  # -vv, -vq
            i += 1
            continue
        if p is None:
            break
        value = val if eq else (toks[i + 1] if _takes_value(p) and i + 1 < len(toks) else None)
        if p.name == "workspace":
            out.workspace = value
        elif p.name == "server":
            out.server = value
        elif p.name == "token":
            out.token = value
        elif p.name in ("verbose", "quiet"):
            out.root_flags.append(tok)
        i += 1 + (1 if _takes_value(p) and not eq else 0)
    cmd: click.Command = root
    while isinstance(cmd, click.Group) and i < len(toks):
        sub = cmd.commands.get(toks[i])
        if sub is None:
            if toks[i] in ("-h", "--help"):
                out.help = True
            break
        out.path += (toks[i],)
        cmd = sub
        i += 1
    out.args = toks[i:]
    if isinstance(cmd, click.Group) or any(a in ("-h", "--help") for a in out.args):
        out.help = True
        return out
    _find_paths(cmd, out)
    return out


def _find_paths(cmd: click.Command, out: Parsed) -> None:
    opts = _options(cmd)
    positional: list[int] = []
    args = out.args
    i = 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            positional += range(i + 1, len(args))
            break
        name, eq, _ = tok.partition("=")
        p = opts.get(name)
        if p is not None and tok.startswith("-"):
            kind = _path_kind(p)
            if not _takes_value(p):
                i += 1
                continue
            if eq:
                if kind:
                    (out.inputs if kind == "in" else out.outputs).append(i)
                i += 1
                continue
            if kind and i + 1 < len(args):
                (out.inputs if kind == "in" else out.outputs).append(i + 1)
            i += 2
            continue
        positional.append(i)
        i += 1
    arguments = [p for p in cmd.params if isinstance(p, click.Argument)]
    k = 0
    for j, a in enumerate(arguments):
        later = sum(max(b.nargs, 0) for b in arguments[j + 1:])
        n = max(len(positional) - k - later, 0) if a.nargs == -1 else a.nargs
        kind = _path_kind(a)
        if kind:
            (out.inputs if kind == "in" else out.outputs).extend(positional[k:k + n])
        k += n


def _set(args: list[str], i: int, value: str) -> None:
    name, eq, _ = args[i].partition("=")
    args[i] = f"{name}={value}" if eq and name.startswith("-") else value


def _value(args: list[str], i: int) -> str:
    name, eq, val = args[i].partition("=")
    return val if eq and name.startswith("-") else args[i]


def absolute(p: Parsed, cwd: str | Path | None = None) -> Parsed:
    """``p`` with every file argument made absolute against ``cwd`` (default: the current folder)."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    for i in (*p.inputs, *p.outputs):
        v = _value(p.args, i)
        if v and v != "-":
            _set(p.args, i, str((base / Path(v).expanduser()).absolute()))
    return p


def kind_of(p: Parsed) -> str:
    """``local``, ``read``, ``stream`` or ``write``: where and how the command runs."""
    if p.help or not p.path or p.path[0] in LOCAL:
        return "local"
    if p.name in STREAMS:
        return "stream"
    if p.name in READ or (p.name == "analyze" and "--list" in p.args):
        return "read"
    return "write"


def forward(root: click.Group, argv: Sequence[str]) -> int | None:
    """Run ``argv`` in the server that owns the workspace; its exit code, or ``None`` when the
    command runs here (no server, or a command that does not need one)."""
    p = parse(root, argv)
    if kind_of(p) == "local":
        return None
    server = p.server or os.environ.get("SITEWATCH_SERVER") or None
    if server:
        from sitewatch.remote import RemoteWorkspace

        token = p.token or os.environ.get("SITEWATCH_TOKEN") or None
        return _run(RemoteWorkspace(server, token), p, owner=False)
    from sitewatch import owner
    from sitewatch.api import _answers
    from sitewatch.remote import RemoteWorkspace
    from sitewatch.workspace import resolve_dir

    info = owner.find(resolve_dir(p.workspace))
    if info is None:
        return None
    rw = RemoteWorkspace(info.url, info.token, resolve_dir(p.workspace), owner=True)
    if not _answers(rw):
        return None  # a stale file of a live pid: open the folder (a clear error if it is held)
    return _run(rw, absolute(p), owner=True)


def _run(rw: object, p: Parsed, owner: bool) -> int:
    from sitewatch.cli._common import terminal_width
    from sitewatch.errors import InputError
    from sitewatch.remote import RemoteWorkspace

    assert isinstance(rw, RemoteWorkspace)
    uploads: dict[str, str] = {}
    outputs: dict[str, str] = {}
    out_dir: Path | None = None
    if not owner:
        if p.name not in REMOTE:
            raise InputError(f"`sitewatch {p.name}` does not run through --server; run it on the server's "
                             f"machine (commands that do: {', '.join(sorted(REMOTE))})")
        for n, i in enumerate(p.inputs):
            src = Path(_value(p.args, i)).expanduser()
            if not src.is_file():
                raise InputError(f"{src}: through --server give files, not folders (they are uploaded)")
            key = f"@upload{n}"
            uploads[key] = rw.upload(src)
            _set(p.args, i, key)
        for n, i in enumerate(p.outputs):
            dst = Path(_value(p.args, i)).expanduser().absolute()
            out_dir = dst.parent
            key = f"@output{n}"
            outputs[key] = dst.name
            _set(p.args, i, key)
    try:
        return rw.run_command(p.argv(), columns=terminal_width(), out_tty=sys.stdout.isatty(),
                              err_tty=sys.stderr.isatty(), uploads=uploads, outputs=outputs, out_dir=out_dir)
    except KeyboardInterrupt:  # closing the connection stops the command (a stream commits what it holds)
        click.echo("aborted", err=True)
        return 130
