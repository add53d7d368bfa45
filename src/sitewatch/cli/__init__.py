"""The ``sitewatch`` command line: a thin skin over the library.

``main(argv) -> int`` is the entry point. Commands live in ``cmd_*.py`` modules of this
package; each defines ``register(root)`` and is discovered automatically, so adding a
command never edits this file. Errors derived from :class:`~sitewatch.errors.SitewatchError`
become exit code 2 and one line on stderr (a traceback only with ``-v``); so does an
:class:`OSError` on a path the user named (a folder that cannot be written, a missing one).

While ``sitewatch serve`` owns the workspace (or with ``--server URL``), ``main`` runs the
command in that server instead (:mod:`sitewatch.cli._remote`): same output, same exit code.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import click

from sitewatch import __version__
from sitewatch.cli._common import CONTEXT_SETTINGS, Ctx, job, take_exit_code
from sitewatch.errors import SitewatchError


@click.group(context_settings=CONTEXT_SETTINGS)
@click.option("-w", "--workspace", "workspace", metavar="DIR", envvar="SITEWATCH_WORKSPACE",
              help="Workspace folder (default: $SITEWATCH_WORKSPACE, else the current folder).")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug); tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no progress bars.")
@click.option("--server", metavar="URL", envvar="SITEWATCH_SERVER",
              help="Run the command in the sitewatch server at URL (default: the server that owns the workspace, "
                   "if one runs; else the workspace is opened here).")
@click.option("--token", metavar="T", envvar="SITEWATCH_TOKEN",
              help="API token for --server (sitewatch token create --scope read|admin).")
@click.version_option(__version__, prog_name="sitewatch")
@click.pass_context
def root(ctx: click.Context, workspace: str | None, verbose: int, quiet: bool, server: str | None,
         token: str | None) -> None:
    """sitewatch — watch strategic sites from open sources (ADS-B, AIS, imagery).

    \b
    Examples:
      sitewatch init ./syria
      sitewatch -w ./syria site add hmeimim --airport OSLK --radius-km 6
      sitewatch -w ./syria site add tartus --port "Tartus"
      sitewatch -w ./syria ingest adsb flights.csv.gz
      sitewatch -w ./syria export positions --format csv --out pos.csv --site hmeimim
      sitewatch --server http://10.0.0.5:8700 --token "$T" events --site hmeimim

    While `sitewatch serve` runs on the workspace, commands run in it (the dashboard stays
    open); otherwise they open the workspace folder directly.
    """
    level = logging.WARNING - 10 * verbose if not quiet else logging.ERROR
    logging.basicConfig(level=max(level, logging.DEBUG), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Ctx(workspace=workspace, verbose=verbose, quiet=quiet)


def _load_commands() -> None:
    import sitewatch.cli as pkg

    for mod in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("cmd_")):
        module = importlib.import_module(f"sitewatch.cli.{mod}")
        module.register(root)


_load_commands()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)
    try:
        if job() is None:  # not already running inside the server
            from sitewatch.cli._remote import forward

            code = forward(root, args)
            if code is not None:
                return code
        root.main(args=args, prog_name="sitewatch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as exc:  # one line, and where to look, instead of the usage block
        where = exc.ctx.command_path if exc.ctx is not None else "sitewatch"
        click.echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return 2
    except SitewatchError as exc:
        if verbose:
            raise
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a path the user gave cannot be read or written: theirs to fix, one line
        if verbose:
            raise
        click.echo(f"error: {_os_message(exc)}", err=True)
        return 2
    return take_exit_code()


def _os_message(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, FileExistsError):
        what = "exists and is not a folder"
    elif isinstance(exc, NotADirectoryError):
        what = "a part of this path is a file, not a folder"
    if exc.filename is None:
        return f"{what} (run with -v for the traceback)"
    return f"{exc.filename}: {what} (check the path and its permissions)"


def entry() -> None:  # console_scripts entry point
    sys.exit(main())
