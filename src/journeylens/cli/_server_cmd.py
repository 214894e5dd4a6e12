"""``journeylens serve`` and ``journeylens keys``: run the HTTP server, manage its credentials."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from journeylens.cli._commands import FormatOpt, WorkspaceOpt
from journeylens.cli._output import OutputFormat, err_console, render

keys_app = typer.Typer(
    help="Write keys (per source) and read/admin tokens for `journeylens serve`; only hashes are stored.",
    no_args_is_help=True,
)


def serve(
    workspace: WorkspaceOpt = Path("."),
    host: Annotated[str, typer.Option(help="Address to bind (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8321,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes.")] = 1,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin", help="A web origin allowed to call the server from a browser (repeat)."
        ),
    ] = None,
) -> None:
    """Serve the collector, the REST API and the dashboard over HTTP (FastAPI on uvicorn)."""
    import uvicorn

    from journeylens.server.app import WORKSPACE_ENV, ServerSettings, create_app
    from journeylens.workspace import Workspace

    root = Workspace.open(workspace).root
    settings = ServerSettings(host=host, port=port, workers=workers, cors_origins=tuple(cors_origin or ()))
    err_console.print(
        f"Serving workspace {root} on http://{host}:{port} "
        "(health: /health; API schema: /api/v1/openapi.json, with a read token)"
    )
    if workers > 1:
        os.environ[WORKSPACE_ENV] = str(root)
        uvicorn.run(
            "journeylens.server.app:app_from_env", factory=True, host=host, port=port, workers=workers
        )
    else:
        uvicorn.run(create_app(root, settings=settings), host=host, port=port)


def _store(workspace: Path):  # type: ignore[no-untyped-def]
    from journeylens.server.keys import KEYS_FILE, KeyStore
    from journeylens.workspace import Workspace

    return KeyStore(Workspace.open(workspace).root / KEYS_FILE)


@keys_app.command("create")
def keys_create(
    kind: Annotated[str, typer.Argument(help="write (sends events for one source), read, or admin.")],
    workspace: WorkspaceOpt = Path("."),
    name: Annotated[str, typer.Option(help="A label: who or what uses the key.")] = "",
    source: Annotated[str | None, typer.Option(help="Write keys: the source the events come from.")] = None,
    channel: Annotated[
        str | None,
        typer.Option(help="Write keys: the channel of the source's events (web, app, call_in...)."),
    ] = None,
) -> None:
    """Create a key and print it once (only its hash is kept)."""
    issued = _store(workspace).create(kind, name=name, source=source, channel=channel)
    err_console.print(f"Created {kind} key {issued.record.id}. It is shown only now; keep it safe:")
    typer.echo(issued.secret)


@keys_app.command("list")
def keys_list(workspace: WorkspaceOpt = Path("."), fmt: FormatOpt = OutputFormat.table) -> None:
    """The keys: id, kind, source, channel, when created and revoked (never the secrets)."""
    rows = [{k: v for k, v in vars(r).items() if k != "hash"} for r in _store(workspace).records()]
    render(rows, fmt)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `journeylens keys list`).")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Revoke a key; a running server refuses it from the next request."""
    record = _store(workspace).revoke(key_id)
    err_console.print(f"Revoked {record.kind} key {record.id} ({record.revoked_at}).")
