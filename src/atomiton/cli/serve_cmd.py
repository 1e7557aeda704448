"""``atomiton serve``: start the protocol server on stdio, or on a port with the live page.

The command only reads flags and hands them to ``atomiton.serve``; a non-loopback ``--host``
needs a token (given, or made up and printed), because whoever reaches the port can run flows.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Final

import click

from . import status

EPILOG: Final = """\b
Examples:
  atomiton serve                      # http://127.0.0.1:8765/ and ws://127.0.0.1:8765/rpc
  atomiton serve --stdio              # JSON-RPC on stdin/stdout, for an editor
  atomiton serve --host 0.0.0.0 --token SECRET
"""

_LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")


@click.command("serve", epilog=EPILOG)
@click.option("--stdio", is_flag=True, help="Speak JSON-RPC on stdin/stdout (one message a line).")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port of the page and the WebSocket (0: any free port).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback needs a token.",
)
@click.option(
    "--token",
    envvar="ATOMITON_SERVE_TOKEN",
    help="Secret a client must present (?token=... or the X-Atomiton-Token header); "
    "default $ATOMITON_SERVE_TOKEN.",
)
@click.option(
    "--blueprints",
    "blueprints",
    type=click.Path(file_okay=False, path_type=Path),
    help="The blueprint store folder (default ~/Atomiton/Blueprints).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The run history database (default: the project's).",
)
@click.option("--no-record", is_flag=True, help="Do not record runs in the history.")
def serve_command(
    stdio: bool,
    port: int,
    host: str,
    token: str | None,
    blueprints: Path | None,
    db: Path | None,
    no_record: bool,
) -> None:
    """Serve the JSON-RPC protocol and the live web view of runs."""
    from ..serve.methods import ServeSettings, default_blueprint_folder

    folder = blueprints or Path(os.environ.get("ATOMITON_BLUEPRINTS") or default_blueprint_folder())
    if stdio:
        from ..serve.stdio import main

        settings = ServeSettings(blueprints=folder, db=db, record=not no_record)
        raise click.exceptions.Exit(main(settings))
    if host not in _LOOPBACK and not token:
        token = secrets.token_urlsafe(18)
        click.echo(f"--host {host} is reachable from other machines: token {token}", err=True)
    try:
        from ..serve.app import bind, serve
    except ImportError as exc:
        click.echo(
            f"error: atomiton serve needs its extra ({exc.name} is missing): "
            "pip install 'atomiton[serve]'",
            err=True,
        )
        raise click.exceptions.Exit(status.USAGE_ERROR) from None
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    query = f"?token={token}" if token else ""
    print(f"serving on http://{shown}:{bound}/{query}", file=sys.stderr, flush=True)
    settings = ServeSettings(blueprints=folder, db=db, record=not no_record, token=token)
    serve(settings, sock)
